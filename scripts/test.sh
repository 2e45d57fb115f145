#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the whole test suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir "${MODELSWARM_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
