#!/usr/bin/env bash
# Configures and builds modelswarm and its tests into build/ (Release, Ninja when available).
# Arguments starting with '-' go to CMake's configure step (e.g. -DCMAKE_PREFIX_PATH=/opt/libtorch);
# the others name the targets to build (e.g. `modelswarm`: the binary only); none builds everything.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${MODELSWARM_BUILD_DIR:-build}
configure_args=()
targets=()
for arg in "$@"; do
  if [[ $arg == -* ]]; then configure_args+=("$arg"); else targets+=("$arg"); fi
done
generator=()
if [ ! -f "$build_dir/CMakeCache.txt" ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${configure_args[@]}" \
  > "$build_dir.configure.log" 2>&1 || { cat "$build_dir.configure.log"; exit 1; }
target_args=()
if ((${#targets[@]})); then target_args=(--target "${targets[@]}"); fi
cmake --build "$build_dir" -j "$(nproc)" "${target_args[@]}"
