#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cpp) with clang, ASan + UBSan, into build-fuzz/
# and runs each for FUZZ_SECONDS (default 30) on a copy of its seed corpus in
# tests/fuzz/corpus/<target> (regenerate the seeds with tests/python/fuzz_corpus.py).
# A crash, leak-free timeout or sanitizer report leaves its input in build-fuzz/artifacts/ and
# fails the script; add that input to the corpus (or a regression test) once fixed.
# FUZZ_TARGETS="tokenizer adapter" limits the run; FUZZ_JOBS sets the build's parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
cxx=${FUZZ_CXX:-clang++-14}
jobs=${FUZZ_JOBS:-$(nproc)}
build=build-fuzz
generator=(); command -v ninja >/dev/null && [ ! -f "$build/CMakeCache.txt" ] && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMODELSWARM_FUZZ=ON -DMODELSWARM_BUILD_TESTS=OFF -DMODELSWARM_PCH=ON > "$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
if [ -n "${FUZZ_TARGETS:-}" ]; then
  targets=$(for t in $FUZZ_TARGETS; do echo "${t%_fuzz}_fuzz"; done)
else
  targets=$(cd tests/fuzz && ls *_fuzz.cpp | sed 's/\.cpp$//')
fi
cmake --build "$build" -j "$jobs" --target $targets
mkdir -p "$build/artifacts"
status=0
for t in $targets; do
  corpus="$build/corpus/${t%_fuzz}"
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/"${t%_fuzz}"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $t for ${seconds}s"
  # detect_leaks=0: libtorch's global allocations are not ours to fix. -timeout: an input that
  # takes over 10 s (e.g. quadratic tokenisation) counts as a failure. -rss_limit_mb: one input
  # must not need more than 2 GB.
  if ! ASAN_OPTIONS=detect_leaks=0 "$build/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$build/artifacts/$t-" -print_final_stats=1 "$corpus" > "$build/$t.log" 2>&1; then
    echo "fuzz: $t FAILED"; tail -40 "$build/$t.log"; status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$t.log" | sed "s/^/  $t /" || true
done
exit $status
