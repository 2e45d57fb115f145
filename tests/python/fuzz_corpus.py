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
"""
import os
import shutil
import sys
import tempfile

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


def main() -> None:
    out = sys.argv[1]
    tokenizers_corpus(out, sys.argv[2] if len(sys.argv) > 2 else "")
    configs_corpus(out)
    adapters_corpus(out)


if __name__ == "__main__":
    main()
