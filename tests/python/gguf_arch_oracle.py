"""Oracle for tests/formats/gguf_arch_test.cpp: `convert gguf` on every architecture it supports.

usage: gguf_arch_oracle.py OUT_DIR

For each of llama, qwen2, qwen3 and gemma, builds a tiny random transformers model, writes it as
a GGUF the way llama.cpp's convert_hf_to_gguf.py would, loads that GGUF back and writes:
  OUT_DIR/<arch>/model.gguf          the file `modelswarm convert gguf` is to convert
  OUT_DIR/<arch>/logits.safetensors  "logits": (sequences, length, vocab) float32, the logits of
                                     the model in the GGUF on each token-id sequence
  OUT_DIR/<arch>/reference.json      the sequences ("input_ids"), the Hugging Face class, where the
                                     logits come from ("source"), and the ids transformers' GGUF
                                     tokenizer gives a text ("text", "text_ids"), when it loads one

The logits come from the GGUF, not from the model it was written from: the ffn weights are stored
as Q8_0 and the embedding as F16, so the two differ by the quantisation error, far above the
tolerance of the comparison. "source" is
  "transformers": AutoModelForCausalLM.from_pretrained(dir, gguf_file=...), transformers' own GGUF
                  conversion (un-permuting llama's q/k rows etc.), the independent oracle;
  "dequantised":  for an architecture transformers' GGUF loader refuses (gemma, the original
                  Gemma, is not in its GGUF_SUPPORTED_ARCHITECTURES: only gemma2/3/4 are), the
                  original transformers model class with the file's tensors dequantised by the
                  gguf package and llama.cpp's transforms undone here (the +1 on Gemma's norms).
For the architectures transformers loads, the "dequantised" logits are computed as well and must
agree with transformers' (checked here), which vouches for the fallback path.
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

import gguf
from gguf import GGMLQuantizationType as Q

HIDDEN, LAYERS, HEADS, KV_HEADS, INTERMEDIATE, VOCAB = 64, 2, 4, 2, 128, 300
CONTEXT, EPS, ROPE_THETA = 256, 1e-5, 10000.0
SEQUENCES, LENGTH = 3, 7
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TEXT = "the cat sat on the mat"

# The per-architecture choices, each the one of a real model of that family where it matters:
#   head_dim: qwen3 (Qwen3-0.6B: 1024 / 16 heads but head_dim 128) and gemma (gemma-7b: 3072 / 16
#     heads but head_dim 256) state a head size other than hidden / heads in attention.key_length;
#     qwen3's is 128 because transformers' GGUF loader ignores key_length for qwen3 and keeps
#     Qwen3Config's default head_dim, 128 (checked below, so a change there shows).
#   tied: llama untied (so output.weight exists and the q/k permutation meets grouped-query
#     attention), qwen2 untied (it has the q/k/v biases to test), qwen3 and gemma tied (as
#     Qwen3-0.6B and Gemma are): no output.weight in the file.
ARCHS = {
    "llama": dict(cls="LlamaForCausalLM", head_dim=16, tied=False, pre="default"),
    "qwen2": dict(cls="Qwen2ForCausalLM", head_dim=16, tied=False, pre="qwen2"),
    "qwen3": dict(cls="Qwen3ForCausalLM", head_dim=128, tied=True, pre="qwen2"),
    "gemma": dict(cls="GemmaForCausalLM", head_dim=32, tied=True, pre="default"),
}


def bytes_to_unicode():
    """GPT-2's byte -> printable character table: the first 256 tokens of a byte-level vocabulary."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def vocabulary():
    """300 tokens: the 256 byte characters (in byte order), 41 merges, 3 control tokens."""
    byte_chars = bytes_to_unicode()
    tokens = [byte_chars[b] for b in range(256)]
    space = byte_chars[ord(" ")]
    merges = []
    for pair in ["t h", "th e", "a t", "o n", "i n", "e r", "a n", "r e", "h e", "i s", "o r", "e n", "a r",
                 "s t", "e s", "t o", "i t", "a l", "o u", "l e"]:
        merges.append(pair)
    for word in ["the", "at", "on", "in", "er", "an", "re", "he", "is", "or", "en", "ar", "st", "es", "to",
                 "it", "al", "ou", "le", "c", "m"]:
        merges.append(f"{space} {word}")
    for m in merges:
        tokens.append(m.replace(" ", ""))
    assert len(set(tokens)) == len(tokens), "a merge result repeats a token"
    tokens += SPECIALS
    assert len(tokens) == VOCAB
    types = [gguf.TokenType.NORMAL] * (VOCAB - len(SPECIALS)) + [gguf.TokenType.CONTROL] * len(SPECIALS)
    return tokens, merges, types


def hf_model(arch):
    import transformers

    a = ARCHS[arch]
    config_class = {"llama": transformers.LlamaConfig, "qwen2": transformers.Qwen2Config,
                    "qwen3": transformers.Qwen3Config, "gemma": transformers.GemmaConfig}[arch]
    eot = VOCAB - len(SPECIALS)
    config = config_class(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                          num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
                          head_dim=a["head_dim"], max_position_embeddings=CONTEXT, rms_norm_eps=EPS,
                          rope_theta=ROPE_THETA, tie_word_embeddings=a["tied"], bos_token_id=eot,
                          eos_token_id=eot, pad_token_id=None)
    config.architectures = [a["cls"]]
    torch.manual_seed(0)
    model = getattr(transformers, a["cls"])(config).float().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                # Gemma's norms scale by (1 + w), the others by w: random around each one's identity,
                # so a missed or doubled +1, or norms swapped between places, changes the logits.
                p.copy_(torch.randn_like(p) * 0.3 + (0.0 if arch == "gemma" else 1.0))
            elif name.endswith(".bias"):
                p.copy_(torch.randn_like(p) * 0.5)  # qwen2's q/k/v biases, zero at init
            else:
                p.copy_(torch.randn_like(p) * 0.1)
    return model


def permute(weights, n_head, n_head_kv):
    """llama.cpp's LlamaModel.permute: q/k rows from rotate-half to interleaved RoPE pairs."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def unpermute(weights, n_head):
    """The inverse of permute (transformers' LlamaTensorProcessor._reverse_permute_weights)."""
    return (weights.reshape(n_head, weights.shape[0] // n_head // 2, 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias", "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight", "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")
    assert parts[:2] == ["model", "layers"], hf
    return f"blk.{parts[2]}.{LAYER_NAMES['.'.join(parts[3:])]}"


def storage_type(name):
    """Q8_0 for the ffn matrices, F16 for the embedding, F32 for the rest (norms always F32, as llama.cpp)."""
    if ".ffn_" in name and name.endswith(".weight") and "norm" not in name:
        return Q.Q8_0
    if name == "token_embd.weight":
        return Q.F16
    return Q.F32


def write_gguf(arch, model, path):
    a = ARCHS[arch]
    c = model.config
    w = gguf.GGUFWriter(path, arch=arch)
    w.add_name(f"tiny random {arch}")
    w.add_context_length(CONTEXT)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(INTERMEDIATE)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_layer_norm_rms_eps(EPS)
    w.add_rope_freq_base(ROPE_THETA)
    w.add_key_length(a["head_dim"])
    w.add_value_length(a["head_dim"])
    if arch == "llama":
        w.add_rope_dimension_count(a["head_dim"])  # LlamaModel.set_gguf_parameters writes it
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)

    tokens, merges, types = vocabulary()
    eot = tokens.index("<|endoftext|>")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(a["pre"])
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(eot)
    w.add_eos_token_id(eot)
    w.add_add_bos_token(False)

    for name, t in model.state_dict().items():
        if name == "lm_head.weight" and a["tied"]:
            continue  # tied: llama.cpp writes no output.weight
        new = gguf_name(name)
        data = t.detach().float().numpy().copy()
        if arch == "llama" and new.endswith((".attn_q.weight", ".attn_q.bias")):
            data = permute(data, HEADS, HEADS)
        if arch == "llama" and new.endswith((".attn_k.weight", ".attn_k.bias")):
            data = permute(data, HEADS, KV_HEADS)
        if arch == "gemma" and name.endswith("norm.weight"):
            data = data + 1  # GemmaModel.modify_tensors: llama.cpp's rms_norm multiplies by w alone
        qtype = storage_type(new)
        if qtype == Q.F32:
            w.add_tensor(new, data.astype(np.float32))
        elif qtype == Q.F16:
            w.add_tensor(new, data.astype(np.float16))
        else:
            w.add_tensor(new, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def dequantised_state_dict(arch, path):
    """The file's tensors as the Hugging Face model's parameters, with llama.cpp's transforms undone."""
    names = {gguf_name(k): k for k in hf_model_keys(arch)}
    out = {}
    for t in gguf.GGUFReader(path).tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        data = data.reshape([int(d) for d in reversed(t.shape)])
        if arch == "llama" and ".attn_q." in t.name:
            data = unpermute(data, HEADS)
        if arch == "llama" and ".attn_k." in t.name:
            data = unpermute(data, KV_HEADS)
        if arch == "gemma" and t.name.endswith("norm.weight"):
            data = data - 1
        out[names[t.name]] = torch.from_numpy(np.ascontiguousarray(data))
    if ARCHS[arch]["tied"]:
        out["lm_head.weight"] = out["model.embed_tokens.weight"]
    return out


_KEYS = {}


def hf_model_keys(arch):
    return _KEYS[arch]


def logits_of(model, sequences):
    with torch.no_grad():
        return model(torch.tensor(sequences)).logits.float().contiguous()


def main(out_dir):
    import transformers

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    generator = np.random.default_rng(1234)
    # ids < 256: byte tokens, no control token among them
    sequences = generator.integers(0, 256, size=(SEQUENCES, LENGTH)).tolist()
    os.makedirs(out_dir, exist_ok=True)
    failures = []
    for arch, a in ARCHS.items():
        directory = os.path.join(out_dir, arch)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "model.gguf")
        model = hf_model(arch)
        _KEYS[arch] = list(model.state_dict().keys())
        write_gguf(arch, model, path)
        original = logits_of(model, sequences)

        model.load_state_dict(dequantised_state_dict(arch, path), strict=True)
        dequantised = logits_of(model, sequences)
        reference = {"arch": arch, "class": a["cls"], "head_dim": a["head_dim"], "input_ids": sequences,
                     "max_diff_original_vs_gguf": float((original - dequantised).abs().max())}

        try:
            loaded = transformers.AutoModelForCausalLM.from_pretrained(directory, gguf_file="model.gguf",
                                                                      dtype=torch.float32).eval()
            c = loaded.config
            head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads  # Qwen2Config has none
            got = (type(loaded).__name__, head_dim, c.tie_word_embeddings)
            if got != (a["cls"], a["head_dim"], a["tied"]):
                raise ValueError(f"transformers read the file as {got}, not {(a['cls'], a['head_dim'], a['tied'])}")
            logits = logits_of(loaded, sequences)
            diff = float((logits - dequantised).abs().max())
            reference.update(source="transformers", max_diff_transformers_vs_dequantised=diff)
            if diff > 1e-5:
                failures.append(f"{arch}: transformers and the dequantised reference differ by {diff}")
        except Exception as e:  # gemma: "GGUF model with architecture gemma is not supported yet."
            logits = dequantised
            reference.update(source="dequantised", transformers_refused=f"{type(e).__name__}: {e}")

        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(directory, gguf_file="model.gguf")
            reference.update(text=TEXT, text_ids=tokenizer(TEXT, add_special_tokens=False)["input_ids"])
        except Exception as e:
            reference["tokenizer_refused"] = f"{type(e).__name__}: {e}"

        save_file({"logits": logits}, os.path.join(directory, "logits.safetensors"))
        with open(os.path.join(directory, "reference.json"), "w") as f:
            json.dump(reference, f, indent=1)
        print(arch, {k: v for k, v in reference.items() if k != "input_ids"})
    if failures:
        sys.exit("\n".join(failures))


if __name__ == "__main__":
    main(sys.argv[1])
