"""Hugging Face's view of a model directory converted from llama2.c, for the conversion tests.

  llama2c_oracle.py check MODEL_DIR FORWARD_REFERENCE TOKENIZER_REFERENCE OUT_DIR
    Loads MODEL_DIR with LlamaForCausalLM (fp32) and AutoTokenizer, and its tokenizer.json with
    the tokenizers library. Writes OUT_DIR/logits.safetensors (case<i>: (T, V) float32 logits
    for the ids of forward reference case i) and OUT_DIR/results.json with
      greedy_ids[i]          40 greedy tokens after case i's ids (transformers generate),
      auto_tokenizer_ids[i]  AutoTokenizer(prompt).input_ids (BOS added per tokenizer_config),
      tokenizers_ids[j], tokenizers_decoded[j]  tokenizer.json on tokenizer reference text j.

  llama2c_oracle.py generate MODEL_DIR ADAPTER_DIR PROMPT MAX_NEW_TOKENS OUT_FILE
    Greedy continuation of PROMPT by the model with the PEFT adapter ADAPTER_DIR ("-" for none),
    decoded as the text after the prompt; written to OUT_FILE as it is (no newline added).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import AutoTokenizer, LlamaForCausalLM


def load(model_dir, adapter_dir="-"):
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter_dir != "-":
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, adapter_dir)
    return model.eval()


def greedy(model, ids, n):
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False,
                             attention_mask=torch.ones(1, len(ids), dtype=torch.long))
    return out[0, len(ids):].tolist()


def check(model_dir, forward_reference, tokenizer_reference, out_dir):
    model = load(model_dir)
    auto = AutoTokenizer.from_pretrained(model_dir)
    cases = json.load(open(forward_reference))["cases"]
    logits, results = {}, {"greedy_ids": [], "auto_tokenizer_ids": []}
    for i, case in enumerate(cases):
        with torch.no_grad():
            logits[f"case{i}"] = model(torch.tensor([case["ids"]])).logits[0].float().contiguous()
        results["greedy_ids"].append(greedy(model, case["ids"], len(case["greedy_ids"])))
        results["auto_tokenizer_ids"].append(auto(case["prompt"]).input_ids)
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    texts = [c["text"] for c in json.load(open(tokenizer_reference))["cases"]]
    results["tokenizers_ids"] = [tok.encode(t, add_special_tokens=False).ids for t in texts]
    results["tokenizers_decoded"] = [tok.decode(ids) for ids in results["tokenizers_ids"]]
    save_file(logits, os.path.join(out_dir, "logits.safetensors"))
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, ensure_ascii=False)


def generate(model_dir, adapter_dir, prompt, max_new_tokens, out_file):
    model = load(model_dir, adapter_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ids = tokenizer(prompt).input_ids
    new = greedy(model, ids, int(max_new_tokens))
    if tokenizer.eos_token_id in new:
        new = new[:new.index(tokenizer.eos_token_id)]
    full = tokenizer.decode(ids + new, skip_special_tokens=True)
    prefix = tokenizer.decode(ids, skip_special_tokens=True)
    assert full.startswith(prefix), (full, prefix)
    with open(out_file, "w") as f:
        f.write(full[len(prefix):])


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"check": check, "generate": generate}[command](*args)
