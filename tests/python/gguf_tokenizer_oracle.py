"""Oracle for tests/formats/gguf_tokenizer_test.cpp: tokenizers from GGUF metadata.

  gguf_tokenizer_oracle.py gpt2 GGUF OUT_DIR
      For a byte-level (tokenizer.ggml.model = gpt2) GGUF, writes OUT_DIR/expected.json: the
      texts, and for each the ids and decode of
        "transformers": AutoTokenizer.from_pretrained(dir, gguf_file=name), transformers' own
                        GGUF tokenizer;
        "reference":    the tokenizers library with the same vocabulary, merges and control
                        tokens and the pre-tokenizer llama.cpp runs for tokenizer.ggml.pre
                        ("smollm": Digits(individual_digits) then ByteLevel's GPT-2 regex, the
                        pre_tokenizer of SmolLM2's own tokenizer.json).
      The two differ where transformers' GGUF loader knows no split for the file's pre-tokenizer
      and falls back to GPT-2's regex alone (smollm: a digit after a space or a letter).
  gguf_tokenizer_oracle.py llama SPM_MODEL OUT_DIR
      Writes OUT_DIR/tokenizer.gguf with gguf.GGUFWriter: the SentencePiece model's pieces,
      scores and types as tokenizer.ggml.model = llama, its unk/bos/eos ids, add_bos_token true,
      add_space_prefix true; and OUT_DIR/expected.json: the texts, SentencePiece's own ids with
      BOS ("sentencepiece"), its decode, and whether SentencePiece's whitespace normalisation
      (remove_extra_whitespaces) changes the text ("sp_collapses_whitespace": a Hugging Face
      tokenizer.json keeps every space, so those legitimately differ).
  gguf_tokenizer_oracle.py transformers MODEL_DIR TEXTS_JSON OUT_JSON
      Loads MODEL_DIR's tokenizer.json + tokenizer_config.json with AutoTokenizer and writes the
      ids of each text with and without special tokens, their decode, the special tokens and
      the chat template applied to a short conversation.
"""
import json
import os
import sys

from tokenizer_oracle import EDGE_CASES, dataset_texts

CORPUS = [
    "2024 and 3.14159",
    "Call 555-0199 or 1-800-FLOWERS by 12:30pm on 2026-11-29.",
    "$1,234.56 vs €99,99 and 1e-10 and 0x1F and 007",
    "x2 + y3 = z23; a1b2c3",
    "½ cup, x² + y³, ① ② ③, Ⅻ, ٣٤٥ and ४२",
    "abc123def 456ghi",
    "  leading spaces",
    "trailing spaces   ",
    " one leading space",
    "many     inner      spaces",
    "\ttab\tseparated\tvalues\t",
    "line one\nline two\n\nline four\r\nwindows\n\n\n",
    "\n",
    "\n\n",
    " \n \n",
    "I'm sure you'll see we've done it; they'd say it's fine, don't you think? Y'ALL'RE",
    "Hello, world! How are you?!... (fine) [ok] {yes} <no> @home #tag %50 ^up &and *star",
    "def f(x):\n    return x ** 2  # square\n\nprint(f(3))",
    "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct?x=1&y=2",
    "café naïve résumé Ångström Zürich São Paulo",
    "e\u0301 vs \u00e9 (combining acute)",
    "中文测试：你好，世界！日本語のテキスト。한국어 텍스트.",
    "Emoji: 😀 👍🏽 👨‍👩‍👧 🇫🇷 ❤️",
    "Ελληνικά, русский текст, עברית, العربية, हिन्दी",
    "<|im_start|>user\nHi<|im_end|>",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>",
    "text<|endoftext|>more text",
    " <|im_end|> spaced <|im_start|> ",
    "<repo_name>modelswarm<file_sep>src/main.cpp",
    "<|im_start|><|im_end|><|im_start|>",
    "<|im_star",
    "a",
    " ",
    "",
]

CONVERSATION = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": "And 3 + 3?"},
]


def corpus():
    texts = CORPUS + [t for t in EDGE_CASES if t not in CORPUS] + dataset_texts()[:300]
    return texts


def gguf_fields(path):
    import gguf

    reader = gguf.GGUFReader(path)
    return {name: field.contents() for name, field in reader.fields.items() if name.startswith("tokenizer.")}


def reference_byte_level(fields):
    """The tokenizers library with llama.cpp's pre-tokenizer for the file's tokenizer.ggml.pre."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

    tokens = fields["tokenizer.ggml.tokens"]
    vocab = {token: i for i, token in enumerate(tokens)}
    merges = [tuple(m.split(" ")) for m in fields["tokenizer.ggml.merges"]]
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    pre = fields.get("tokenizer.ggml.pre", "default")
    if pre == "smollm":
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
            ]
        )
    elif pre in ("default", "gpt2", "gpt-2"):
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        sys.exit(f"no reference pre-tokenizer for {pre!r}")
    tokenizer.decoder = decoders.ByteLevel()
    types = fields.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    tokenizer.add_special_tokens(
        [AddedToken(t, normalized=False, special=True) for t, kind in zip(tokens, types) if kind in (2, 3)]
    )
    user_defined = [t for t, kind in zip(tokens, types) if kind == 4]
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in user_defined])
    return tokenizer


def gpt2_mode(gguf_path, out_dir):
    from transformers import AutoTokenizer

    texts = corpus()
    hf = AutoTokenizer.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path))
    backend = hf.backend_tokenizer
    hf_ids = [backend.encode(t, add_special_tokens=False).ids for t in texts]
    reference = reference_byte_level(gguf_fields(gguf_path))
    ref_ids = [reference.encode(t, add_special_tokens=False).ids for t in texts]
    result = {
        "texts": texts,
        "transformers": {
            "ids": hf_ids,
            "ids_with_special": [hf(t, add_special_tokens=True)["input_ids"] for t in texts],
            "decoded": [backend.decode(ids, skip_special_tokens=False) for ids in hf_ids],
            "decoded_skip_special": [backend.decode(ids, skip_special_tokens=True) for ids in hf_ids],
            "chat": hf.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True),
        },
        "reference": {
            "ids": ref_ids,
            "decoded": [reference.decode(ids, skip_special_tokens=False) for ids in ref_ids],
            "decoded_skip_special": [reference.decode(ids, skip_special_tokens=True) for ids in ref_ids],
        },
    }
    with open(os.path.join(out_dir, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)


def llama_mode(model_file, out_dir):
    import gguf
    import numpy as np
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=model_file)
    n = sp.get_piece_size()

    def piece_type(i):
        if sp.is_unknown(i):
            return gguf.TokenType.UNKNOWN
        if sp.is_control(i):
            return gguf.TokenType.CONTROL
        if sp.is_unused(i):
            return gguf.TokenType.UNUSED
        if sp.is_byte(i):
            return gguf.TokenType.BYTE
        return gguf.TokenType.NORMAL

    writer = gguf.GGUFWriter(os.path.join(out_dir, "tokenizer.gguf"), arch="llama")
    writer.add_context_length(512)
    writer.add_tokenizer_model("llama")
    writer.add_token_list([sp.id_to_piece(i) for i in range(n)])
    writer.add_token_scores([sp.get_score(i) for i in range(n)])
    writer.add_token_types([piece_type(i) for i in range(n)])
    writer.add_unk_token_id(sp.unk_id())
    writer.add_bos_token_id(sp.bos_id())
    writer.add_eos_token_id(sp.eos_id())
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(True)  # tok512's normalizer_spec.add_dummy_prefix (the default)
    writer.add_tensor("token_embd.weight", np.zeros((n, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    texts = [t for t in corpus() if "<|" not in t]  # tok512 has no chat tokens
    ids = [[sp.bos_id()] + sp.encode(t) for t in texts]
    result = {
        "texts": texts,
        "sentencepiece": ids,
        "decoded": [sp.decode(i) for i in ids],
        "sp_collapses_whitespace": [sp.decode(sp.encode(t)) != t for t in texts],
    }
    with open(os.path.join(out_dir, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)


def transformers_mode(model_dir, texts_json, out_json):
    from transformers import AutoTokenizer

    with open(texts_json, encoding="utf-8") as f:
        texts = json.load(f)
    tok = AutoTokenizer.from_pretrained(model_dir)
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    result = {
        "class": type(tok).__name__,
        "ids": ids,
        "ids_with_special": [tok(t, add_special_tokens=True)["input_ids"] for t in texts],
        "decoded": [tok.decode(i, skip_special_tokens=False) for i in ids],
        "special_tokens": {k: getattr(tok, k) for k in ("bos_token", "eos_token", "unk_token", "pad_token")},
        "chat": tok.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)
        if tok.chat_template
        else None,
    }
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "gpt2":
        gpt2_mode(*sys.argv[2:4])
    elif mode == "llama":
        llama_mode(*sys.argv[2:4])
    elif mode == "transformers":
        transformers_mode(*sys.argv[2:5])
    else:
        sys.exit(f"unknown mode {mode}")
