#!/usr/bin/env bash
# A search on a real third-party model, end to end: install, build, convert the real stories260K model
# (llama2.c, from ../shared/fixtures) to a Hugging Face directory, make five stand-in LoRA experts
# of different ranks, and run `modelswarm search` with a multiple-choice utility on it.
# The stand-in experts are made with PEFT from the test venv;
# the search itself is the modelswarm binary alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
fixture=${MODELSWARM_STORIES:-../shared/fixtures/stories260K}
[ -f "$fixture/stories260K.bin" ] || { echo "demo: $fixture/stories260K.bin not found (set MODELSWARM_STORIES)"; exit 1; }
if [ ! -f build/stories260K/model.safetensors ]; then
  build/modelswarm convert llama2c "$fixture/stories260K.bin" "$fixture/tok512.model" build/stories260K
fi
if [ ! -f build/stories260K-experts/expert4/adapter_model.safetensors ]; then
  .venv/bin/python tests/python/stories_experts.py build/stories260K 5 build/stories260K-experts
fi
# The reward model of configs/examples/reward_model.json (a fluency probe on the same backbone).
if [ ! -f build/stories260K-reward/model.safetensors ]; then
  .venv/bin/python tests/python/stories_reward_model.py build/stories260K configs/data/stories_mc.jsonl \
    build/stories260K-reward
fi
rm -rf runs/stories-search
build/modelswarm search --config configs/stories_search.json
echo
echo "demo: results in runs/stories-search (best/ is a PEFT adapter; report.json, report.html)"
