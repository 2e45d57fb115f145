"""Oracle for tests/formats/tokenizer_test.cpp and sentencepiece_test.cpp.

  tokenizer_oracle.py bytelevel OUT_DIR
      Trains byte-level BPE tokenizers (GPT-2, Llama-3 and Qwen2 pre-tokenizer setups, and a
      RoBERTa-style variant of GPT-2's with add_prefix_space) with the
      `tokenizers` library on the string fields of ../shared/datasets/*.jsonl, saves each as
      OUT_DIR/<name>.json and writes OUT_DIR/expected.json: the texts and, per tokenizer, the
      library's ids (with and without special tokens) and decode(ids).
  tokenizer_oracle.py spm MODEL OURS_JSON OUT_JSON
      Converts the SentencePiece MODEL as transformers' LlamaConverter does (vocabulary from the
      pieces, merges from transformers' generate_merges ranked by piece score, legacy normaliser,
      BOS template), and writes to OUT_JSON the texts and the ids of: that conversion
      ("reference"), OURS_JSON loaded by the tokenizers library ("ours"), SentencePiece itself,
      and Metaspace pre-tokenizer variants of the conversion (tokenizer JSON, ids, decode).
      transformers' own converter needs `protobuf`, absent from the venv; this follows its
      LlamaConverter and calls its generate_merges for the merge order.
"""
import glob
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

DATASETS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "datasets")

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

EDGE_CASES = [
    "",
    " ",
    "Hello world",
    "  two leading spaces and   three inside  ",
    "tabs\tand\r\nwindows\nnewlines\n\n",
    "digits 1234567890 and 3.14159 and 2026-11-29",
    "emoji 😀👍🏽 and 👨‍👩‍👧",
    "CJK 漢字かなカナ 한국어",
    "combining: e\u0301 vs \u00e9, A\u030a vs \u00c5",
    "accents café naïve Ångström",
    "mixed\u00a0nbsp and \u3000ideographic space",
    "<|endoftext|>after special",
    "before<|endoftext|>",
    "two <|endoftext|><|endoftext|> specials",
    "a [MASK] token with lstrip",
    "xyzzy is single-word, notxyzzy is not",
    "'s 're 've n't I'M YOU'LL",
    "<|im_start|>user\nhi<|im_end|>",
]


def dataset_texts():
    texts = []
    for path in sorted(glob.glob(os.path.join(DATASETS, "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                for value in record.values():
                    values = value if isinstance(value, list) else [value]
                    texts.extend(v for v in values if isinstance(v, str))
    return texts


def train_bytelevel(name, texts):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE(ignore_merges=(name == "llama3")))
    if name == "gpt2":
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    else:
        pattern = LLAMA3_PATTERN if name == "llama3" else QWEN2_PATTERN
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    if name == "qwen2":
        tokenizer.normalizer = normalizers.NFC()
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1500, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.add_special_tokens([AddedToken("[MASK]", lstrip=True, special=True)])
    tokenizer.add_tokens([AddedToken("xyzzy", single_word=True, special=False)])
    if name == "llama3":
        bos = tokenizer.token_to_id("<|endoftext|>")
        tokenizer.post_processor = processors.Sequence(
            [
                processors.ByteLevel(trim_offsets=False),
                processors.TemplateProcessing(
                    single="<|endoftext|> $A", pair="<|endoftext|> $A <|endoftext|> $B:1",
                    special_tokens=[("<|endoftext|>", bos)],
                ),
            ]
        )
    return tokenizer


def bytelevel(out_dir):
    texts = dataset_texts() + EDGE_CASES
    expected = {"texts": texts, "tokenizers": {}}
    trained = {}
    for name in ("gpt2", "llama3", "qwen2", "roberta"):
        if name == "roberta":  # GPT-2's vocabulary with a prefix space and RoBERTa's <s> ... </s>
            tokenizer = Tokenizer.from_str(trained["gpt2"].to_str())
            tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
            tokenizer.post_processor = processors.RobertaProcessing(
                ("<|im_end|>", tokenizer.token_to_id("<|im_end|>")),  # sep
                ("<|im_start|>", tokenizer.token_to_id("<|im_start|>")),  # cls
            )
        else:
            tokenizer = train_bytelevel(name, dataset_texts())
        trained[name] = tokenizer
        path = os.path.join(out_dir, name + ".json")
        tokenizer.save(path)
        encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
        ids = [e.ids for e in encodings]
        expected["tokenizers"][name] = {
            "file": name + ".json",  # relative to the output directory
            "ids": ids,
            "ids_with_special": [e.ids for e in tokenizer.encode_batch(EDGE_CASES, add_special_tokens=True)],
            "decoded": tokenizer.decode_batch(ids, skip_special_tokens=False),
            "decoded_skip_special": tokenizer.decode_batch(ids, skip_special_tokens=True),
        }
    with open(os.path.join(out_dir, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False)


def convert_llama_spm(model_file):
    """transformers' LlamaConverter (legacy) for a SentencePiece BPE model, without protobuf."""
    import sentencepiece as spm
    from transformers.tokenization_utils_base import generate_merges

    sp = spm.SentencePieceProcessor(model_file=model_file)
    pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    vocab = {piece: i for i, (piece, _) in enumerate(pieces)}
    merges = generate_merges(vocab, pieces)
    unk, bos = sp.id_to_piece(sp.unk_id()), sp.id_to_piece(sp.bos_id())
    tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token=unk, fuse_unk=True, byte_fallback=True, dropout=None))
    specials = [i for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)]
    tokenizer.add_special_tokens([AddedToken(sp.id_to_piece(i), normalized=False, special=True) for i in specials])
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1)]
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1", special_tokens=[(bos, sp.bos_id())]
    )
    return tokenizer, sp


def spm_mode(model_file, ours_json, out_json):
    reference, sp = convert_llama_spm(model_file)
    ours = Tokenizer.from_file(ours_json)
    texts = dataset_texts()[:400] + EDGE_CASES + ["Once upon a time", "Lily and Tom went to the park."]
    ids = [e.ids for e in reference.encode_batch(texts, add_special_tokens=False)]
    result = {
        "texts": texts,
        "reference": ids,
        "reference_with_bos": [e.ids for e in reference.encode_batch(texts, add_special_tokens=True)],
        "reference_decoded": reference.decode_batch(ids),
        "ours": [e.ids for e in ours.encode_batch(texts, add_special_tokens=False)],
        "sentencepiece": [sp.encode(t) for t in texts],
        "reference_json": json.loads(reference.to_str()),
        "metaspace": {},
    }
    # transformers 5 writes Llama tokenizers with a Metaspace pre-tokenizer instead of the legacy
    # normaliser: check each prepend scheme, with and without splitting.
    for scheme, split in (("first", False), ("always", True), ("never", False), ("always", False)):
        variant = Tokenizer.from_str(reference.to_str())
        variant.normalizer = None
        variant.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=split)
        variant.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=scheme, split=split)
        variant_ids = [e.ids for e in variant.encode_batch(texts, add_special_tokens=False)]
        result["metaspace"][f"{scheme}_split{int(split)}"] = {
            "json": json.loads(variant.to_str()),
            "ids": variant_ids,
            "decoded": variant.decode_batch(variant_ids),
        }
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)


if __name__ == "__main__":
    if sys.argv[1] == "bytelevel":
        bytelevel(sys.argv[2])
    elif sys.argv[1] == "spm":
        spm_mode(*sys.argv[2:5])
    else:
        sys.exit(f"unknown mode {sys.argv[1]}")
