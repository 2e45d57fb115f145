"""Writes the seed corpora of the libFuzzer targets in tests/fuzz from real libraries' output.

  fuzz_corpus.py CORPUS_DIR [STORIES_TOKENIZER_JSON]

  CORPUS_DIR/tokenizer/     tokenizer.json files: a byte-level BPE (GPT-2 style) and a
                            SentencePiece-style BPE trained by `tokenizers`, the stories260K
                            tokenizer converted by `modelswarm convert` when given, each also
                            with a NUL byte and a text to encode appended (the target's format)
  CORPUS_DIR/model_config/  config.json of tiny Llama (plain and llama3 RoPE scaling), Mistral,
                            Qwen2, Qwen3 and Gemma models, as transformers writes them
  CORPUS_DIR/adapter/       PEFT LoRA adapters of a tiny Llama (plain; rsLoRA with rank_pattern
                            and alpha_pattern), as adapter_config.json + NUL +
                            adapter_model.safetensors (the target's format)
  CORPUS_DIR/gguf/          tiny GGUF files written by gguf.GGUFWriter: metadata of every value
                            type (string and nested arrays included) and small tensors of several
                            ggml types, one with a 64-byte general.alignment, one without tensors

  fuzz_corpus.py --only NAME CORPUS_DIR [...]   writes that corpus only (tokenizer, model_config,
                                                adapter or gguf)
"""
import os
import shutil
import sys
import tempfile

import gguf
import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (GemmaConfig, LlamaConfig, LlamaForCausalLM, MistralConfig, Qwen2Config,
                          Qwen3Config)

TEXTS = ["Once upon a time, there was a little girl named Lily.", "She liked to play in the park 123 times!",
         "caf\u00e9 na\u00efve \u00c5ngstr\u00f6m \U0001F600 \u6f22\u5b57", "tabs\tand\r\nnewlines\n\n  spaces  "]
SAMPLE = "Hello <|endoftext|> world, caf\u00e9 \U0001F44D 42"


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def tokenizers_corpus(out: str, stories: str) -> None:
    bytelevel = Tokenizer(models.BPE())
    bytelevel.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bytelevel.decoder = decoders.ByteLevel()
    bytelevel.post_processor = processors.TemplateProcessing(single="<|endoftext|> $A",
                                                             special_tokens=[("<|endoftext|>", 0)])
    bytelevel.train_from_iterator(TEXTS * 4, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))

    spm = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
    spm.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    spm.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    spm.train_from_iterator(TEXTS * 4, trainers.BpeTrainer(
        vocab_size=120, special_tokens=["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]))

    specs = {"bytelevel": bytelevel.to_str().encode(), "sentencepiece_bpe": spm.to_str().encode()}
    if stories:
        with open(stories, "rb") as f:
            specs["stories260K"] = f.read()
    for name, spec in specs.items():
        write(f"{out}/tokenizer/{name}.json", spec)
        write(f"{out}/tokenizer/{name}-with-text", spec + b"\0" + SAMPLE.encode())


def configs_corpus(out: str) -> None:
    small = dict(vocab_size=64, hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2)
    configs = {
        "llama": LlamaConfig(**small),
        "llama3_rope": LlamaConfig(**small, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                          "high_freq_factor": 4.0,
                                                          "original_max_position_embeddings": 8192}),
        "mistral": MistralConfig(**small, sliding_window=32),
        "qwen2": Qwen2Config(**small),
        "qwen3": Qwen3Config(**small, head_dim=8),
        "gemma": GemmaConfig(**small, head_dim=8),
    }
    for name, config in configs.items():
        config.architectures = [type(config).__name__.replace("Config", "ForCausalLM")]
        write(f"{out}/model_config/{name}.json", config.to_json_string().encode())


def adapters_corpus(out: str) -> None:
    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=8, intermediate_size=12, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=1))
    variants = {
        "plain": LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
        "patterns": LoraConfig(r=4, lora_alpha=8, use_rslora=True, target_modules=["q_proj", "k_proj", "down_proj"],
                               rank_pattern={"k_proj": 2}, alpha_pattern={"down_proj": 3}, init_lora_weights=False),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, config in variants.items():
            model = get_peft_model(base, config, adapter_name=name)
            model.save_pretrained(f"{tmp}/{name}", selected_adapters=[name])
            saved = f"{tmp}/{name}" if os.path.exists(f"{tmp}/{name}/adapter_config.json") else f"{tmp}/{name}/{name}"
            with open(f"{saved}/adapter_config.json", "rb") as c, open(f"{saved}/adapter_model.safetensors", "rb") as w:
                write(f"{out}/adapter/{name}", c.read() + b"\0" + w.read())
            base = model.unload()
            shutil.rmtree(f"{tmp}/{name}")


def gguf_corpus(out: str) -> None:
    rng = np.random.default_rng(0)
    Q = gguf.GGMLQuantizationType

    def k_quant_block(qtype):  # random codes, finite f16 scales d and dmin at the block's start
        block = rng.integers(0, 256, size=(1, gguf.GGML_QUANT_SIZES[qtype][1]), dtype=np.uint8)
        block[0, :4] = np.array([0.01, 0.001], dtype=np.float16).view(np.uint8)
        return block

    def write_gguf(name, fill, alignment=None):
        path = f"{out}/gguf/{name}"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        writer = gguf.GGUFWriter(path, arch="llama")
        if alignment:
            writer.add_custom_alignment(alignment)
        fill(writer)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    def tensors(writer):
        writer.add_context_length(64)
        writer.add_layer_norm_rms_eps(1e-5)
        writer.add_bool("general.flag", True)
        writer.add_array("tokenizer.ggml.tokens", ["<unk>", "<s>", "a", "caf\u00e9"])
        writer.add_array("tokenizer.ggml.scores", [0.0, -1.0, -2.5, -3.0])
        writer.add_tensor("f32", rng.standard_normal((2, 3)).astype(np.float32))
        writer.add_tensor("q8_0", gguf.quants.quantize(rng.standard_normal((1, 32)).astype(np.float32), Q.Q8_0),
                          raw_dtype=Q.Q8_0)
        writer.add_tensor("q4_k", k_quant_block(Q.Q4_K), raw_dtype=Q.Q4_K)

    def aligned(writer):
        writer.add_string("general.name", "tiny")
        writer.add_tensor("f16", rng.standard_normal(4).astype(np.float16))
        writer.add_tensor("bf16", gguf.quants.quantize(rng.standard_normal((2, 2)).astype(np.float32), Q.BF16),
                          raw_dtype=Q.BF16)
        writer.add_tensor("q4_0", gguf.quants.quantize(rng.standard_normal((1, 32)).astype(np.float32), Q.Q4_0),
                          raw_dtype=Q.Q4_0)

    def metadata_only(writer):
        writer.add_uint8("u8", 200)
        writer.add_int8("i8", -5)
        writer.add_uint16("u16", 60000)
        writer.add_int16("i16", -3)
        writer.add_int32("i32", -70000)
        writer.add_uint64("u64", 1 << 40)
        writer.add_int64("i64", -(1 << 40))
        writer.add_float64("f64", 0.125)
        writer.add_array("nested", [[1, 2], [3]])
        writer.add_array("merges", ["a b", "ab c"])

    def tokenizer(writer, model):  # what hf_config and hf_tokenizer read: a one-layer model's keys
        writer.add_block_count(1)
        writer.add_context_length(64)
        writer.add_embedding_length(32)
        writer.add_feed_forward_length(64)
        writer.add_head_count(2)
        writer.add_head_count_kv(1)
        writer.add_tokenizer_model(model)
        tokens = ["<unk>", "<s>", "</s>", "a", "b", "ab", "\u0120", "\u0120a"]
        writer.add_token_list(tokens)
        writer.add_token_types([2, 3, 3, 1, 1, 1, 1, 1])
        if model == "gpt2":
            writer.add_tokenizer_pre("smollm")
            writer.add_token_merges(["a b", "\u0120 a"])
        else:
            writer.add_token_scores([0.0, 0.0, 0.0, -1.0, -2.0, -0.5, -3.0, -1.5])
        writer.add_bos_token_id(1)
        writer.add_eos_token_id(2)
        writer.add_chat_template("{{ messages }}")
        writer.add_tensor("token_embd.weight", rng.standard_normal((8, 32)).astype(np.float32))

    write_gguf("tokenizer_gpt2.gguf", lambda w: tokenizer(w, "gpt2"))
    write_gguf("tokenizer_llama.gguf", lambda w: tokenizer(w, "llama"))
    write_gguf("tensors.gguf", tensors)
    write_gguf("aligned64.gguf", aligned, alignment=64)
    write_gguf("metadata_only.gguf", metadata_only)


CORPORA = ["tokenizer", "model_config", "adapter", "gguf"]


def main() -> None:
    args = sys.argv[1:]
    only = CORPORA
    if args[:1] == ["--only"]:
        only, args = [args[1]], args[2:]
    out = args[0]
    if "tokenizer" in only:
        tokenizers_corpus(out, args[1] if len(args) > 1 else "")
    if "model_config" in only:
        configs_corpus(out)
    if "adapter" in only:
        adapters_corpus(out)
    if "gguf" in only:
        gguf_corpus(out)


if __name__ == "__main__":
    main()
