#!/usr/bin/env bash
# Builds and checks modelswarm on a machine with an NVIDIA GPU and a Python PyTorch, but no
# package registry. Two halves:
#
#   scripts/gpu_check.sh prepare   here, with Debian's package registry: downloads the .debs of
#                                  the build dependencies into ../modelswarm-debs (beside the
#                                  checkout). Copy the checkout and that folder to the GPU machine.
#   scripts/gpu_check.sh run       there: unpacks the .debs into ../modelswarm-deps (dpkg -x, or
#                                  ar + tar without dpkg), builds GoogleTest from their source,
#                                  configures against that Python's libtorch
#                                  (torch.utils.cmake_prefix_path), builds, runs the test suite
#                                  (the CUDA tests run when a GPU is visible), then the bench on
#                                  CUDA in bfloat16 with --json, then scripts/scaling.py over
#                                  every GPU (a device list, and torchrun with a rank per GPU).
#
# The machine needs: a C++17 compiler (g++ or clang++), CMake >= 3.18 (on PATH, or the cmake
# module of that Python), make or ninja (ninja is among the .debs), and, for a CUDA build of
# torch, the CUDA toolkit. spdlog and fmt are used header-only, so no .so of theirs is needed at
# run time; PCRE2 and utf8proc are linked from the unpacked tree (RPATH).
#
# Environment (run): PYTHON (python3), GPU_CHECK_DEVICE (cuda; cpu checks everything but CUDA),
# GPU_CHECK_DTYPE (bfloat16), GPU_CHECK_BUILD_DIR (../modelswarm-gpu-build), GPU_CHECK_JOBS
# (nproc), GPU_CHECK_TESTS (a ctest -R regex; default: all), GPU_CHECK_BENCH (arguments of the
# bench; default: the 100m preset of docs/PERFORMANCE.md), GPU_CHECK_OUT (../modelswarm-gpu-check:
# logs and bench JSON).
set -euo pipefail
checkout=$(cd "$(dirname "$0")/.." && pwd)
debs=${GPU_CHECK_DEBS:-$checkout/../modelswarm-debs}
deps=${GPU_CHECK_DEPS:-$checkout/../modelswarm-deps}

# Headers and CMake configs, plus the shared libraries the -dev symlinks point to.
packages=(libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev googletest
          libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2 ninja-build)

die() { echo "gpu_check: $*" >&2; exit 1; }

prepare() {
  command -v apt-get >/dev/null || die "prepare needs apt-get (a Debian or Ubuntu machine with its registry)"
  mkdir -p "$debs"
  (cd "$debs" && apt-get download "${packages[@]}")
  echo "gpu_check: $(ls "$debs"/*.deb | wc -l) packages in $debs; copy it beside the checkout on the GPU machine"
}

unpack() {
  rm -rf "$deps" && mkdir -p "$deps/root"
  local deb
  for deb in "$debs"/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$deps/root"
    else  # a .deb is an ar archive holding data.tar.{xz,zst,gz}
      local tmp; tmp=$(mktemp -d)
      (cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$deps/root")
      rm -rf "$tmp"
    fi
  done
}

find_cmake() {
  if command -v cmake >/dev/null; then command -v cmake; return; fi
  local dir
  dir=$("$python" -c 'import cmake, os; print(cmake.CMAKE_BIN_DIR)' 2>/dev/null) && [ -x "$dir/cmake" ] \
    && { echo "$dir/cmake"; return; }
  die "no cmake on PATH nor in $python (pip's cmake package); CMake >= 3.18 is needed"
}

run() {
  python=${PYTHON:-python3}
  local device=${GPU_CHECK_DEVICE:-cuda} dtype=${GPU_CHECK_DTYPE:-bfloat16}
  local build=${GPU_CHECK_BUILD_DIR:-$checkout/../modelswarm-gpu-build} out=${GPU_CHECK_OUT:-$checkout/../modelswarm-gpu-check}
  local jobs=${GPU_CHECK_JOBS:-$(nproc)}
  [ -d "$debs" ] || die "$debs is missing: run '$0 prepare' on a machine with the package registry, copy it here"
  local torch_prefix
  torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)') \
    || die "$python cannot import torch (set PYTHON to the Python whose PyTorch to build against)"
  if [ "$device" = cuda ]; then
    "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' \
      || die "torch.cuda.is_available() is false in $python (GPU_CHECK_DEVICE=cpu checks the rest)"
  fi
  local cmake; cmake=$(find_cmake)
  mkdir -p "$out"
  echo "gpu_check: unpacking $(ls "$debs"/*.deb | wc -l) packages into $deps"
  unpack
  local root=$deps/root
  export PATH="$root/usr/bin:$PATH"  # ninja
  local generator=(-G "Unix Makefiles")
  command -v ninja >/dev/null && generator=(-G Ninja)

  echo "gpu_check: building GoogleTest from $root/usr/src/googletest"
  "$cmake" -S "$root/usr/src/googletest" -B "$deps/googletest-build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$deps/googletest" -DBUILD_GMOCK=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    > "$out/googletest.log" 2>&1 || { cat "$out/googletest.log"; die "GoogleTest configure failed"; }
  "$cmake" --build "$deps/googletest-build" -j "$jobs" --target install >> "$out/googletest.log" 2>&1 \
    || { tail -50 "$out/googletest.log"; die "GoogleTest build failed"; }

  echo "gpu_check: configuring against libtorch at $torch_prefix"
  # No pkg-config: the .pc files of the unpacked tree name /usr; CMake finds PCRE2 directly.
  "$cmake" -S "$checkout" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/googletest;$root/usr" \
    -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON -DMODELSWARM_SPDLOG_HEADER_ONLY=ON \
    -DMODELSWARM_TEST_PYTHON="$(command -v "$python")" > "$out/configure.log" 2>&1 \
    || { cat "$out/configure.log"; die "configure failed (log: $out/configure.log)"; }
  echo "gpu_check: building with $jobs jobs (log: $out/build.log)"
  "$cmake" --build "$build" -j "$jobs" ${GPU_CHECK_TARGET:+--target "$GPU_CHECK_TARGET"} > "$out/build.log" 2>&1 \
    || { tail -60 "$out/build.log"; die "build failed (log: $out/build.log)"; }
  [ -n "${GPU_CHECK_TARGET:-}" ] && { echo "gpu_check: built $GPU_CHECK_TARGET only, stopping"; return; }

  echo "gpu_check: test suite (log: $out/ctest.log)"
  local tests=()
  [ -n "${GPU_CHECK_TESTS:-}" ] && tests=(-R "$GPU_CHECK_TESTS")
  (cd "$build" && "$(dirname "$cmake")/ctest" --output-on-failure -j "$jobs" "${tests[@]}") > "$out/ctest.log" 2>&1 \
    || { tail -80 "$out/ctest.log"; die "tests failed (log: $out/ctest.log)"; }
  tail -3 "$out/ctest.log"

  echo "gpu_check: bench on $device in $dtype (report: $out/bench.json)"
  local bench_args
  read -r -a bench_args <<< "${GPU_CHECK_BENCH:---preset 100m --particles 8 --rank 16 --questions 200 --choices 4 --prompt-tokens 32 --choice-tokens 8 --gen-prompts 16 --gen-tokens 16 --batch 4 --seq 128}"
  "$build/modelswarm" -q bench "${bench_args[@]}" --device "$device" --dtype "$dtype" \
    --json-file "$out/bench.json" | tee "$out/bench.txt"

  # Every GPU of the machine: one process with a device list, and one rank per GPU under torchrun,
  # against one GPU (scripts/scaling.py; with one GPU it runs 1 against 1, a check of both paths).
  if [ "$device" = cuda ]; then
    local gpus
    gpus=$("$python" -c 'import torch; print(torch.cuda.device_count())')
    local torchrun
    torchrun=$(dirname "$(command -v "$python")")/torchrun
    echo "gpu_check: scaling over $gpus GPU(s) (report: $out/scaling.txt)"
    "$build/make_demo" --quality-targets "$checkout/build/quality/data" > /dev/null
    "$python" "$checkout/scripts/scaling.py" --device cuda --n "$gpus" --modelswarm "$build/modelswarm" \
      --torchrun "$torchrun" --out "$out/scaling" | tee "$out/scaling.txt"
  fi
  echo "gpu_check: done"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run (see the comment at the top)" >&2; exit 2 ;;
esac
