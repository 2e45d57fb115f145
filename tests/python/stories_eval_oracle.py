"""Multiple-choice accuracy of stories260K and two LoRA experts, computed with transformers + PEFT,
for the end-to-end test of `modelswarm eval`.

  stories_eval_oracle.py STORIES_BIN TOKENIZER_JSON MC_JSONL DEV_SIZE OUT_DIR

Writes OUT_DIR/model (the llama2.c checkpoint as a Hugging Face Llama, with TOKENIZER_JSON),
OUT_DIR/experts/expert{0,1} (PEFT adapters, random, ranks 2 and 3) and OUT_DIR/reference.json:
{"base": {"dev": acc, "test": acc}, "expert0": ..., "expert1": ...} over MC_JSONL in file order
(the first DEV_SIZE records are dev, the rest test). Choices are scored as lm-eval-harness does:
context and context+choice are encoded with BOS and the choice is the tokens after the context's.
"""
import json
import os
import shutil
import struct
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from tokenizers import Tokenizer
from transformers import LlamaConfig, LlamaForCausalLM

LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def read_llama2c(path):
    with open(path, "rb") as f:
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("7i", f.read(28))
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    shared = vocab > 0
    vocab = abs(vocab)
    kv_dim = dim * kv_heads // heads
    pos = 0

    def take(*shape):
        nonlocal pos
        n = 1
        for s in shape:
            n *= s
        t = data[pos:pos + n].view(*shape).clone()
        pos += n
        return t

    w = dict(emb=take(vocab, dim), rms_att=take(layers, dim), wq=take(layers, dim, dim),
             wk=take(layers, kv_dim, dim), wv=take(layers, kv_dim, dim), wo=take(layers, dim, dim),
             rms_ffn=take(layers, dim), w1=take(layers, hidden, dim), w2=take(layers, dim, hidden),
             w3=take(layers, hidden, dim), rms_final=take(dim))
    head = dim // heads
    pos += seq_len * head  # freq_cis_real and freq_cis_imag
    w["wcls"] = w["emb"] if shared else take(vocab, dim)
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, vocab=vocab, seq_len=seq_len)
    return cfg, w


def permute(w, n_heads):
    # llama2.c rotates interleaved pairs; HF rotates halves.
    out, inp = w.shape
    return w.view(n_heads, out // n_heads // 2, 2, inp).transpose(1, 2).reshape(out, inp)


def build_model(bin_path):
    c, w = read_llama2c(bin_path)
    config = LlamaConfig(vocab_size=c["vocab"], hidden_size=c["dim"], intermediate_size=c["hidden"],
                         num_hidden_layers=c["layers"], num_attention_heads=c["heads"],
                         num_key_value_heads=c["kv_heads"], max_position_embeddings=c["seq_len"],
                         rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
                         bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config).float().eval()
    sd = {"model.embed_tokens.weight": w["emb"], "model.norm.weight": w["rms_final"], "lm_head.weight": w["wcls"]}
    for i in range(c["layers"]):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = w["rms_att"][i]
        sd[p + "post_attention_layernorm.weight"] = w["rms_ffn"][i]
        sd[p + "self_attn.q_proj.weight"] = permute(w["wq"][i], c["heads"])
        sd[p + "self_attn.k_proj.weight"] = permute(w["wk"][i], c["kv_heads"])
        sd[p + "self_attn.v_proj.weight"] = w["wv"][i]
        sd[p + "self_attn.o_proj.weight"] = w["wo"][i]
        sd[p + "mlp.gate_proj.weight"] = w["w1"][i]
        sd[p + "mlp.down_proj.weight"] = w["w2"][i]
        sd[p + "mlp.up_proj.weight"] = w["w3"][i]
    model.load_state_dict(sd, strict=False)
    return model


def choice_requests(tok, query, choices):
    out = []
    for choice in choices:
        delim = "" if (query[-1:].isspace() or choice[:1].isspace()) else " "
        cont = delim + choice
        ctx_ids = tok.encode(query, add_special_tokens=True).ids
        whole = tok.encode(query + cont, add_special_tokens=True).ids
        if len(whole) > len(ctx_ids) and whole[:len(ctx_ids)] == ctx_ids:
            cont_ids = whole[len(ctx_ids):]
        else:
            cont_ids = tok.encode(cont, add_special_tokens=False).ids
        out.append((ctx_ids, cont_ids))
    return out


def loglik(model, ctx_ids, cont_ids):
    ids = torch.tensor([ctx_ids + cont_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits.float()[0], dim=-1)
    return sum(logp[len(ctx_ids) + j - 1, t].item() for j, t in enumerate(cont_ids))


def accuracy(model, tok, records):
    correct = 0
    for r in records:
        scores = [loglik(model, c, k) for c, k in choice_requests(tok, r["query"], r["choices"])]
        correct += max(range(len(scores)), key=lambda i: (scores[i], -i)) == r["gold"]
    return correct / len(records)


def main() -> None:
    bin_path, tokenizer_json, mc_path, dev_size, out = sys.argv[1:6]
    dev_size = int(dev_size)
    model_dir = os.path.join(out, "model")
    base = build_model(bin_path)
    base.save_pretrained(model_dir)
    shutil.copy(tokenizer_json, os.path.join(model_dir, "tokenizer.json"))
    tok = Tokenizer.from_file(tokenizer_json)
    records = [json.loads(line) for line in open(mc_path) if line.strip()]
    splits = {"dev": records[:dev_size], "test": records[dev_size:]}
    reference = {"base": {s: accuracy(base, tok, rs) for s, rs in splits.items()}}
    for e in range(2):
        torch.manual_seed(1000 + e)
        r = 2 + e
        peft_model = get_peft_model(build_model(bin_path), LoraConfig(r=r, lora_alpha=2 * r, target_modules=LINEAR,
                                                                      init_lora_weights=False))
        with torch.no_grad():
            for name, p in peft_model.named_parameters():
                if "lora_B" in name:
                    p.mul_(0.5)
        expert_dir = os.path.join(out, "experts", f"expert{e}")
        peft_model.save_pretrained(expert_dir)
        loaded = PeftModel.from_pretrained(build_model(bin_path), expert_dir).eval()
        reference[f"expert{e}"] = {s: accuracy(loaded, tok, rs) for s, rs in splits.items()}
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)


if __name__ == "__main__":
    main()
