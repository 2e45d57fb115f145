#!/usr/bin/env bash
# Builds the test suite with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and
# runs it. Slower than the normal suite: run before each release (and in CI when time allows).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODELSWARM_BUILD_DIR=build-asan bash scripts/build.sh -DMODELSWARM_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
# libtorch's own allocations are not instrumented; leak checking would report its globals.
# allocator_may_return_null: an impossible allocation must fail as it does without ASan (the
# out-of-memory tests check the advice the user gets), not abort.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" "$@"
