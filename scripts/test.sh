#!/usr/bin/env bash
# Installs the dependencies, builds, fuzzes each libFuzzer target for MODELSWARM_FUZZ_SECONDS
# (default 15; 0 skips the fuzz build and run), then runs the whole test suite with CTest
# (last, so that its summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
fuzz_seconds=${MODELSWARM_FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" != 0 ]; then FUZZ_SECONDS=$fuzz_seconds bash scripts/fuzz.sh; fi
ctest --test-dir "${MODELSWARM_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
