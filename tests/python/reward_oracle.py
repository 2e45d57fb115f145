"""Reference rewards from transformers' sequence-classification models, for the reward scorer's tests.

  reward_oracle.py OUT_DIR

For llama (LlamaForSequenceClassification) and qwen2 (Qwen2ForSequenceClassification), tiny random
models with num_labels=1 and pad_token_id=0, writes OUT_DIR/<name>/model (save_pretrained, plus the
64-token tokenizer.json of model_oracle.py) and OUT_DIR/<name>/reference.safetensors:
  ids (R,T) int64, right-padded with the pad id 0 (real ids are >= 3), lengths (R) int64,
  scores (R) float32: transformers' pooled logits for the whole padded batch in one call, so that
  its last-non-pad-token pooling picks a different position in every row.
Also writes OUT_DIR/causal, a LlamaForCausalLM of the same shape (a checkpoint without a score head).
"""
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import (LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification, Qwen2Config,
                          Qwen2ForSequenceClassification)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_oracle import COMMON, VOCAB, tiny_tokenizer  # noqa: E402

LENGTHS = [6, 1, 9, 3, 9, 4]
MODELS = {
    "llama": (LlamaConfig, LlamaForSequenceClassification),
    "qwen2": (Qwen2Config, Qwen2ForSequenceClassification),
}


def batch():
    g = torch.Generator().manual_seed(5)
    ids = torch.zeros(len(LENGTHS), max(LENGTHS), dtype=torch.int64)
    for r, n in enumerate(LENGTHS):
        ids[r, :n] = torch.randint(3, VOCAB, (n,), generator=g)
    return ids, torch.tensor(LENGTHS, dtype=torch.int64)


def main() -> None:
    out = sys.argv[1]
    ids, lengths = batch()
    mask = (torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).long()
    for name, (config_class, model_class) in MODELS.items():
        torch.manual_seed(4321)
        model = model_class(config_class(**COMMON, num_labels=1, pad_token_id=0)).float().eval()
        with torch.no_grad():  # random norms and a large score head, so that a wrong pick shows
            for n, p in model.named_parameters():
                if "norm" in n:
                    p.copy_(torch.randn_like(p) * 0.3 + 1.0)
            model.score.weight.mul_(10.0)
            scores = model(input_ids=ids, attention_mask=mask).logits.float()[:, 0]
        assert scores.std() > 1e-2, "texts must get different rewards"
        model_dir = os.path.join(out, name, "model")
        model.save_pretrained(model_dir)
        tiny_tokenizer().save(os.path.join(model_dir, "tokenizer.json"))
        save_file({"ids": ids.contiguous(), "lengths": lengths.contiguous(), "scores": scores.contiguous()},
                  os.path.join(out, name, "reference.safetensors"))
    LlamaForCausalLM(LlamaConfig(**COMMON)).save_pretrained(os.path.join(out, "causal"))


if __name__ == "__main__":
    main()
