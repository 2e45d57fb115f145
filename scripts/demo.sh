#!/usr/bin/env bash
# The first command: install dependencies, build the modelswarm binary (only it: scripts/test.sh
# builds the rest), and run Model Swarms on the embedded demo (demo/: a tiny Llama, six LoRA
# experts, a quiz none of them solves; see demo/README.md). Nothing is downloaded beyond the build
# dependencies; the search takes a minute or two on CPU. The output is the progress, the result
# table and where the files are; the setup's details go to build.setup.log.
# Extra arguments go to `modelswarm search` (e.g. --seed 3 --output-dir runs/demo-seed3).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${MODELSWARM_BUILD_DIR:-build}

# Dependencies: only setup.sh's own progress lines are shown (apt and pip go to the log).
setup_log=$build_dir.setup.log
echo "demo: dependencies (details: $setup_log)"
if ! bash scripts/setup.sh 2>&1 | tee "$setup_log" | { grep --line-buffered '^setup:' || true; }; then
  tail -n 40 "$setup_log"
  echo "demo: scripts/setup.sh failed; the whole log is $setup_log" >&2
  exit 1
fi

echo "demo: building $build_dir/modelswarm"
bash scripts/build.sh modelswarm

# On a terminal the search shows one live progress line and warnings only (-q); into a file or
# pipe, where that line is not drawn, it logs each iteration instead.
verbosity=()
if [ -t 2 ]; then verbosity=(-q); fi
echo "demo: Model Swarms on demo/ (configs/demo.json)"
"$build_dir/modelswarm" "${verbosity[@]}" search --config configs/demo.json "$@"
