"""Oracle for `modelswarm finetune`: Hugging Face tokenizers, transformers and PEFT load the demo
base model and an adapter written by modelswarm, and give the token ids and logits of a text.

  finetune_oracle.py BASE ADAPTER TEXT OUT_FILE   -> OUT_FILE.safetensors {ids, logits, base_logits}
"""
import sys

import torch
from peft import PeftModel
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import LlamaForCausalLM

base_dir, adapter_dir, text, out = sys.argv[1:5]
ids = Tokenizer.from_file(f"{base_dir}/tokenizer.json").encode(text).ids
input_ids = torch.tensor([ids])
base = LlamaForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32).eval()
with torch.no_grad():
    base_logits = base(input_ids).logits[0].float().contiguous()
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    logits = model(input_ids).logits[0].float().contiguous()
save_file({"ids": input_ids[0].contiguous(), "logits": logits, "base_logits": base_logits}, out)
