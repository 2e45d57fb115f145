#!/usr/bin/env bash
# The first command: install dependencies, build, and run Model Swarms on the embedded demo
# (demo/: a tiny Llama, six LoRA experts, a quiz none of them solves; see demo/README.md).
# Nothing is downloaded beyond the build dependencies; the search takes a minute or two on CPU.
# Extra arguments go to `modelswarm search` (e.g. --seed 3 --output-dir runs/demo-seed3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
build/modelswarm search --config configs/demo.json "$@"
