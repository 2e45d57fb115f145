#!/usr/bin/env bash
# The expert table of docs/REAL.md: the base SmolLM2-135M-Instruct and each expert of
# models/smollm2-experts on the held-out half of every set (configs/smollm2_eval_*.json, 60
# examples each, chat-formatted), one `modelswarm eval` per set. Needs scripts/smollm2_experts.sh
# to have converted the model and split the data. Prints a Markdown table; about 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/smollm2/eval}
mkdir -p "$out"
sets=(commonsense_qa openbook_qa arithmetic svamp)
for set in "${sets[@]}"; do
  build/modelswarm -q eval --config "configs/smollm2_eval_$set.json" --split dev --json > "$out/$set.json"
done
.venv/bin/python - "$out" "${sets[@]}" <<'PY'
import json, sys
out, sets = sys.argv[1], sys.argv[2:]
results = {s: json.load(open(f"{out}/{s}.json")) for s in sets}
def rows(r):
    return {row["name"]: row for row in r["models"]}
first = results[sets[0]]
models = [row["name"] for row in first["models"]]
print("| model | " + " | ".join(sets) + " | mean |")
print("|---|" + "---:|" * (len(sets) + 1))
for m in models:
    values = [rows(results[s])[m]["dev"]["utility"] * 100 for s in sets]
    print(f"| {m} | " + " | ".join(f"{v:.1f}" for v in values) + f" | {sum(values) / len(values):.1f} |")
PY
