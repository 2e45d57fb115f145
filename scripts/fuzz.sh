#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) into build-fuzz/ and runs each for
# FUZZ_SECONDS (default 30) on a copy of its seed corpus in tests/fuzz/corpus/<target>.
# A crash leaves its input in build-fuzz/artifacts/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
cxx=${FUZZ_CXX:-clang++-14}
build=build-fuzz
generator=(); command -v ninja >/dev/null && [ ! -f "$build/CMakeCache.txt" ] && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMODELSWARM_FUZZ=ON -DMODELSWARM_BUILD_TESTS=OFF -DMODELSWARM_PCH=ON > "$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
targets=$(cd tests/fuzz && ls *_fuzz.cpp | sed 's/\.cpp$//')
cmake --build "$build" -j "$(nproc)" --target $targets
mkdir -p "$build/artifacts"
status=0
for t in $targets; do
  corpus="$build/corpus/${t%_fuzz}"
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/"${t%_fuzz}"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $t for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=0 "$build/$t" -max_total_time="$seconds" -artifact_prefix="$build/artifacts/$t-" \
        -print_final_stats=1 "$corpus" > "$build/$t.log" 2>&1; then
    echo "fuzz: $t FAILED"; tail -40 "$build/$t.log"; status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$t.log" | sed "s/^/  $t /"
done
exit $status
