#!/usr/bin/env bash
# Issue #7's side-by-side in one go: `modelswarm bench` (arguments passed through, e.g.
# --preset 100m --particles 8 ...) with --export, then scripts/bench_reference.py timing the
# transformers + PEFT way on the exported model, particles and multiple-choice set.
# Environment: OUT (default runs/bench), REFERENCE_PARTICLES (default 1), REFERENCE_QUESTIONS
# (default: all), MODELSWARM (default build/modelswarm), PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-runs/bench}
bin=${MODELSWARM:-build/modelswarm}
python=${PYTHON:-.venv/bin/python}
mkdir -p "$out"
echo "load before: $(uptime)" | tee "$out/load.txt"
"$bin" bench "$@" --export "$out/export" --json-file "$out/bench.json" | tee "$out/bench.txt"
questions=()
[ -n "${REFERENCE_QUESTIONS:-}" ] && questions=(--questions "$REFERENCE_QUESTIONS")
"$python" scripts/bench_reference.py "$out/export" --bench-json "$out/bench.json" --loglikelihood \
  --particles "${REFERENCE_PARTICLES:-1}" "${questions[@]}" | tee "$out/reference.txt"
echo "load after: $(uptime)" | tee -a "$out/load.txt"
