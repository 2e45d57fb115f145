"""Oracle for `modelswarm merge`: Hugging Face PEFT merges the same experts with
add_weighted_adapter, and loads the adapters that modelswarm wrote.

  compare BASE CASES.json OUT.safetensors
      CASES.json: {"experts": [DIR, ...], "cases": [{"name", "combination_type", "weights",
                   "density" (optional), "majority_sign_method" (optional), "ours": DIR}, ...]}
      OUT holds, per case and module, "<name>/peft/<module>" (PEFT's merged adapter) and
      "<name>/ours/<module>" (modelswarm's adapter, as PEFT loads it), each the module's delta
      weight as PEFT computes it (scaling·B·A).
"""
import json
import sys

import torch
from peft import PeftModel
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM


def deltas(model, adapter: str) -> dict:
    out = {}
    for name, module in model.base_model.model.named_modules():
        if hasattr(module, "lora_A") and adapter in module.lora_A:
            out[name] = module.get_delta_weight(adapter).detach().float().contiguous()
    return out


def compare(base_dir: str, cases_path: str, out_path: str) -> None:
    with open(cases_path) as f:
        spec = json.load(f)
    base = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
    names = [f"expert{i}" for i in range(len(spec["experts"]))]
    model = PeftModel.from_pretrained(base, spec["experts"][0], adapter_name=names[0])
    for name, path in zip(names[1:], spec["experts"][1:]):
        model.load_adapter(path, adapter_name=name)
    tensors = {}
    with torch.no_grad():
        for case in spec["cases"]:
            merged, ours = f"peft-{case['name']}", f"ours-{case['name']}"
            model.add_weighted_adapter(names, case["weights"], merged, combination_type=case["combination_type"],
                                       density=case.get("density"),
                                       majority_sign_method=case.get("majority_sign_method", "total"))
            model.load_adapter(case["ours"], adapter_name=ours)
            for module, delta in deltas(model, merged).items():
                tensors[f"{case['name']}/peft/{module}"] = delta
            for module, delta in deltas(model, ours).items():
                tensors[f"{case['name']}/ours/{module}"] = delta
    save_file(tensors, out_path)


if __name__ == "__main__":
    if sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]}")
