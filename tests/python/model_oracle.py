"""Reference logits from Hugging Face transformers (and PEFT) for the engine's tests.

  model_oracle.py OUT_DIR

For each architecture, writes OUT_DIR/<name>/model (a tiny random model saved with
save_pretrained), OUT_DIR/<name>/adapter (a PEFT LoRA adapter on q,k,v,o,gate,up,down with
non-zero random B) and OUT_DIR/<name>/reference.safetensors holding a fixed batch of ids with
padding and the fp32 logits of the base model and of the model with the adapter:
  ids (B,T) int64, valid (B,T) int64 (1 = real token), positions (B,T) int64,
  logits_base (B,T,V) float32, logits_lora (B,T,V) float32.
The llama model directory also gets a 64-token SentencePiece-style tokenizer.json (for the
evaluator's tests). Row 0 is full, row 1 right-padded, row 2 left-padded; positions count real tokens, as
transformers' generate() does.
"""
import os
import sys

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, processors
from transformers import (GemmaConfig, GemmaForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig,
                          MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
VOCAB = 64
COMMON = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)

MODELS = {
    # llama3 RoPE scaling with a short original context puts one frequency in each band.
    "llama": (LlamaConfig, LlamaForCausalLM,
              dict(COMMON, rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0,
                                                low_freq_factor=1.0, high_freq_factor=4.0,
                                                original_max_position_embeddings=16))),
    # A window shorter than the batch's rows, so that the sliding window matters.
    "mistral": (MistralConfig, MistralForCausalLM, dict(COMMON, sliding_window=4, head_dim=16)),
    "qwen2": (Qwen2Config, Qwen2ForCausalLM,
              dict(COMMON, rope_parameters=dict(rope_type="linear", rope_theta=10000.0, factor=2.0))),
    "qwen3": (Qwen3Config, Qwen3ForCausalLM, dict(COMMON, head_dim=8)),
    "gemma": (GemmaConfig, GemmaForCausalLM, dict(COMMON, head_dim=16)),
    "llama_tied": (LlamaConfig, LlamaForCausalLM, dict(COMMON, tie_word_embeddings=True, num_key_value_heads=4)),
}


def tiny_tokenizer():
    """A 64-piece SentencePiece-style BPE over lowercase text, ids matching the models' vocabulary."""
    pieces = ["<unk>", "<s>", "</s>", "▁"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces += [str(d) for d in range(10)] + [".", ",", "!", "?"]
    merges = [("▁", "t"), ("h", "e"), ("▁t", "he"), ("i", "n"), ("a", "n"), ("e", "r"), ("o", "n"),
              ("▁", "a"), ("a", "t"), ("e", "n"), ("o", "r"), ("e", "s"), ("e", "d"), ("▁", "s"),
              ("▁", "w"), ("▁", "o"), ("n", "d"), ("o", "u"), ("i", "s"), ("i", "t")]
    pieces += [a + b for a, b in merges]
    assert len(pieces) == VOCAB
    tokenizer = Tokenizer(models.BPE({p: i for i, p in enumerate(pieces)}, merges, unk_token="<unk>", fuse_unk=True))
    tokenizer.add_special_tokens(["<unk>", "<s>", "</s>"])
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(content=" ", left=1)])
    tokenizer.post_processor = processors.TemplateProcessing(single="<s>:0 $A:0", special_tokens=[("<s>", 1)])
    return tokenizer


def batch():
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(3, VOCAB, (3, 7), generator=g)
    valid = torch.ones(3, 7, dtype=torch.int64)
    valid[1, 4:] = 0  # right padding
    valid[2, :2] = 0  # left padding
    ids = ids * valid  # pad id 0
    positions = (valid.cumsum(1) - 1).clamp(min=0)
    return ids, valid, positions


def main() -> None:
    out = sys.argv[1]
    ids, valid, positions = batch()
    for name, (config_class, model_class, kwargs) in MODELS.items():
        torch.manual_seed(1234)
        model = model_class(config_class(**kwargs)).float().eval()
        with torch.no_grad():  # random norms, so that a wrong (1 + w) or missing weight shows
            for n, p in model.named_parameters():
                if "norm" in n:
                    p.copy_(torch.randn_like(p) * 0.3 + (0.0 if name == "gemma" else 1.0))
        model_dir = os.path.join(out, name, "model")
        model.save_pretrained(model_dir)
        if name == "llama":
            tiny_tokenizer().save(os.path.join(model_dir, "tokenizer.json"))
        with torch.no_grad():
            base = model(input_ids=ids, attention_mask=valid, position_ids=positions).logits.float()
        peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=LINEAR,
                                                      init_lora_weights=False)).eval()
        with torch.no_grad():
            for n, p in peft_model.named_parameters():
                if "lora_B" in n:
                    p.copy_(torch.randn_like(p) * 0.2)
            lora = peft_model(input_ids=ids, attention_mask=valid, position_ids=positions).logits.float()
        peft_model.save_pretrained(os.path.join(out, name, "adapter"))
        assert (lora - base).abs().max() > 1e-3, "the adapter must change the logits"
        save_file({"ids": ids.contiguous(), "valid": valid.contiguous(), "positions": positions.contiguous(),
                   "logits_base": base.contiguous(), "logits_lora": lora.contiguous()},
                  os.path.join(out, name, "reference.safetensors"))


if __name__ == "__main__":
    main()
