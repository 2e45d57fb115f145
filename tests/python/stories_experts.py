"""Makes a pool of LoRA experts for a (converted) stories260K model, with PEFT itself.

  stories_experts.py MODEL_DIR N OUT_DIR

Each expert e gets LoRA rank 2 + (e % 3) on q,k,v,o,gate,up,down, random A and B from seed e,
B scaled so that the expert perturbs the model's predictions without destroying them. They
stand in for trained experts in end-to-end tests: different ranks on purpose, since combining
experts of different ranks is something the search must handle.
"""
import sys

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaForCausalLM

LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main() -> None:
    model_dir, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    for e in range(n):
        torch.manual_seed(1000 + e)
        base = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
        r = 2 + e % 3
        model = get_peft_model(base, LoraConfig(r=r, lora_alpha=2 * r, target_modules=LINEAR,
                                                init_lora_weights=False))
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.mul_(0.15)
        model.save_pretrained(f"{out}/expert{e}")


if __name__ == "__main__":
    main()
