"""What transformers makes of a GGUF model file: the oracle of `modelswarm convert gguf`.

usage: gguf_model_oracle.py FILE.gguf OUT_DIR

Loads the model and tokenizer through transformers' own GGUF path (dequantised to float32) and
writes into OUT_DIR:
  reference.json     per prompt: text (chat prompts already formatted by the tokenizer's chat
                     template), input ids, the greedy continuation's ids and text
  logits.safetensors "logits": (prompts, vocab) next-token logits after each prompt, float32
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

PLAIN = [
    "The capital of France is",
    "Water boils at a temperature of",
    "1, 2, 3, 4, 5,",
    "Once upon a time, in a small village,",
]
CHAT = [
    "What is the capital of France?",
    "Name three primary colors.",
    "What is 12 plus 7?",
]
MAX_NEW_TOKENS = 24


def main(gguf_file, out_dir):
    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    directory, name = os.path.split(os.path.abspath(gguf_file))
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.eval()

    cases = [{"kind": "plain", "prompt": p, "text": p} for p in PLAIN]
    for question in CHAT:
        text = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                             add_generation_prompt=True)
        cases.append({"kind": "chat", "prompt": question, "text": text})

    logits = []
    with torch.no_grad():
        for case in cases:
            # The chat text carries its own special tokens; the tokenizer adds BOS only if its config says so.
            ids = tokenizer(case["text"], add_special_tokens=case["kind"] == "plain")["input_ids"]
            case["input_ids"] = ids
            x = torch.tensor([ids])
            logits.append(model(x).logits[0, -1].float())
            out = model.generate(x, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
            new = out[0, len(ids):].tolist()
            case["greedy_ids"] = new
            case["greedy_text"] = tokenizer.decode(new, skip_special_tokens=True)

    os.makedirs(out_dir, exist_ok=True)
    save_file({"logits": torch.stack(logits).contiguous()}, os.path.join(out_dir, "logits.safetensors"))
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump({"gguf": gguf_file, "max_new_tokens": MAX_NEW_TOKENS, "cases": cases}, f, indent=1,
                  ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:3])
