"""Oracle for the LoRA adapter tests: Hugging Face PEFT creates and loads adapters.

  make OUT        a tiny random Llama in OUT/base and PEFT adapters OUT/<name>, each with
                  OUT/<name>.delta.safetensors holding PEFT's own delta weight (s·B·A) per module
  load BASE ADAPTER DELTA_OUT
                  loads ADAPTER (written by modelswarm) with PEFT onto BASE and saves each
                  module's delta weight as PEFT computes it
"""
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return LlamaForCausalLM(config).eval()


def deltas(peft_model) -> dict:
    out = {}
    for name, module in peft_model.base_model.model.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            out[name] = module.get_delta_weight("default").detach().float().contiguous()
    return out


def make(out: str) -> None:
    base = tiny_llama()
    base.save_pretrained(f"{out}/base")
    configs = {
        # plain: r 4, alpha 8 on two modules
        "plain": LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
        # rsLoRA with per-module rank and alpha overrides, all linear modules
        "patterns": LoraConfig(r=8, lora_alpha=16, use_rslora=True, target_modules=LINEAR, init_lora_weights=False,
                               rank_pattern={"down_proj": 2, "layers.1.self_attn.q_proj": 6},
                               alpha_pattern={"v_proj": 3.0, "up_proj": 5.0}),
        # a different rank on a subset of modules: exercises alignment and rank padding
        "rank16": LoraConfig(r=16, lora_alpha=4, target_modules=["q_proj", "k_proj", "up_proj"],
                             init_lora_weights=False),
    }
    for seed, (name, config) in enumerate(configs.items()):
        torch.manual_seed(100 + seed)
        model = get_peft_model(tiny_llama(), config)
        model.save_pretrained(f"{out}/{name}")
        save_file(deltas(model), f"{out}/{name}.delta.safetensors")
    # DoRA and modules_to_save adapters, which the search must refuse
    torch.manual_seed(7)
    dora = get_peft_model(tiny_llama(), LoraConfig(r=2, target_modules=["q_proj"], use_dora=True))
    dora.save_pretrained(f"{out}/dora")
    torch.manual_seed(8)
    emb = get_peft_model(tiny_llama(), LoraConfig(r=2, target_modules=["q_proj", "embed_tokens"],
                                                  init_lora_weights=False))
    emb.save_pretrained(f"{out}/embedding")


def load(base_dir: str, adapter_dir: str, delta_out: str) -> None:
    base = LlamaForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter_dir)
    save_file(deltas(model), delta_out)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]}")
