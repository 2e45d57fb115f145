#!/usr/bin/env bash
# Installs the dependencies, builds, runs the whole test suite with CTest, then fuzzes each
# libFuzzer target for MODELSWARM_FUZZ_SECONDS (default 15; 0 skips the fuzz build and run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir "${MODELSWARM_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
fuzz_seconds=${MODELSWARM_FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" != 0 ]; then FUZZ_SECONDS=$fuzz_seconds bash scripts/fuzz.sh; fi
