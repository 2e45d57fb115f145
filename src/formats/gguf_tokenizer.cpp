// tokenizer.json and tokenizer_config.json from a GGUF's tokenizer.ggml.* metadata.
// llama.cpp (src/llama-vocab.cpp) is the reference for what the metadata means: GGUF files are
// made for it and checked against it. transformers' GGUF loader
// (integrations/gguf/gguf_tokenizer_mapping.py) reads the same keys and agrees on the cases
// it covers; where the two differ this follows llama.cpp, which encodes as the original
// model's tokenizer.json did (e.g. SmolLM2's separate digits, Llama 3's ignore_merges).
#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "formats/tokenizer/text.h"
#include "modelswarm/common/error.h"
#include "modelswarm/formats/gguf_convert.h"
#include "modelswarm/formats/sentencepiece.h"

namespace modelswarm::gguf {
namespace {

using nlohmann::json;

// llama_token_type in llama.h; the same numbers as SentencePiece's piece types.
constexpr int kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kByte = 6;

// ---------------------------------------------------------------------------------------------
// Typed metadata access: a missing key or a value of the wrong type names the file and the key.

class Metadata {
 public:
  explicit Metadata(const File& file) : file_(file) {}

  std::string where(const std::string& key) const { return cat(file_.path().string(), ": metadata ", key); }

  const json* find(const std::string& key) const {
    const auto it = file_.metadata().find(key);
    return it == file_.metadata().end() ? nullptr : &*it;
  }

  std::string string(const std::string& key) const {
    const json& value = file_.require(key);
    MS_CHECK(value.is_string(), where(key), " is not a string");
    return value.get<std::string>();
  }
  std::optional<std::string> optional_string(const std::string& key) const {
    if (!find(key)) return std::nullopt;
    return string(key);
  }
  std::optional<bool> optional_bool(const std::string& key) const {
    const json* value = find(key);
    if (!value) return std::nullopt;
    MS_CHECK(value->is_boolean(), where(key), " is not a bool");
    return value->get<bool>();
  }
  std::optional<int64_t> optional_integer(const std::string& key) const {
    const json* value = find(key);
    if (!value) return std::nullopt;
    MS_CHECK(value->is_number_integer(), where(key), " is not an integer");
    return value->get<int64_t>();
  }

  /// An array whose every element passes `is_element` (named `kind` in the error).
  template <typename IsElement>
  const json& array(const std::string& key, IsElement is_element, const char* kind) const {
    const json& value = file_.require(key);
    MS_CHECK(value.is_array(), where(key), " is not an array");
    for (size_t i = 0; i < value.size(); ++i)
      MS_CHECK(is_element(value[i]), where(key), ": element ", i, " is not ", kind);
    return value;
  }

  /// A token id: an integer that names one of the `n_tokens` tokens.
  std::optional<int64_t> token_id(const std::string& key, size_t n_tokens) const {
    const auto id = optional_integer(key);
    MS_CHECK(!id || (*id >= 0 && static_cast<uint64_t>(*id) < n_tokens), where(key), " = ", *id, " is outside the ",
             n_tokens, " tokens");
    return id;
  }

 private:
  const File& file_;
};

// The vocabulary every tokenizer model has: tokens, their types, the special ids.
struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<int> types;  // kNormal for every token when the file has no tokenizer.ggml.token_type
  std::optional<int64_t> bos, eos, unk, pad;
  bool add_bos = false, add_eos = false;
};

Vocabulary read_vocabulary(const Metadata& meta, bool add_bos_default) {
  Vocabulary v;
  const std::string tokens_key = "tokenizer.ggml.tokens";
  for (const json& token : meta.array(tokens_key, [](const json& e) { return e.is_string(); }, "a string"))
    v.tokens.push_back(token.get<std::string>());
  MS_CHECK(!v.tokens.empty(), meta.where(tokens_key), " is empty");
  for (size_t i = 0; i < v.tokens.size(); ++i)
    MS_CHECK(tokenizer::is_valid_utf8(v.tokens[i]), meta.where(tokens_key), ": token ", i, " is not valid UTF-8");

  // Optional in llama.cpp and transformers alike (every token is then normal).
  const std::string types_key = "tokenizer.ggml.token_type";
  if (meta.find(types_key)) {
    const json& types = meta.array(types_key, [](const json& e) { return e.is_number_integer(); }, "an integer");
    MS_CHECK(types.size() == v.tokens.size(), meta.where(types_key), " has ", types.size(), " entries but ",
             tokens_key, " has ", v.tokens.size());
    for (const json& type : types) v.types.push_back(type.get<int>());
  } else {
    v.types.assign(v.tokens.size(), kNormal);
  }

  v.bos = meta.token_id("tokenizer.ggml.bos_token_id", v.tokens.size());
  v.eos = meta.token_id("tokenizer.ggml.eos_token_id", v.tokens.size());
  v.unk = meta.token_id("tokenizer.ggml.unknown_token_id", v.tokens.size());
  v.pad = meta.token_id("tokenizer.ggml.padding_token_id", v.tokens.size());
  // A default BOS without a BOS id is dropped; one the file asks for must exist (llama.cpp refuses too).
  const std::optional<bool> add_bos = meta.optional_bool("tokenizer.ggml.add_bos_token");
  const std::optional<bool> add_eos = meta.optional_bool("tokenizer.ggml.add_eos_token");
  MS_CHECK(!add_bos.value_or(false) || v.bos, meta.where("tokenizer.ggml.add_bos_token"),
           " is true but tokenizer.ggml.bos_token_id is absent");
  MS_CHECK(!add_eos.value_or(false) || v.eos, meta.where("tokenizer.ggml.add_eos_token"),
           " is true but tokenizer.ggml.eos_token_id is absent");
  v.add_bos = add_bos.value_or(add_bos_default && v.bos);
  v.add_eos = add_eos.value_or(false);
  return v;
}

json added_token(int64_t id, const std::string& content, bool special) {
  return {{"id", id},         {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

// ---------------------------------------------------------------------------------------------
// gpt2: byte-level BPE. The pre-tokenizer is named by tokenizer.ggml.pre, llama.cpp's
// LLAMA_VOCAB_PRE_TYPE_* (llm_tokenizer_bpe's regex_exprs).

// The patterns of the models' tokenizer.json (llama.cpp spells the (?i:...) group out by hand).
constexpr const char* kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen35Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N})"
    R"(| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kTekkenSplit =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"
    R"(|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4oSplit =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PreTokenizerRule {
  std::vector<std::string> names;  // tokenizer.ggml.pre values
  enum Kind { kGpt2Regex, kDigitsThenGpt2Regex, kSplit } kind;
  const char* split = nullptr;  // kSplit's pattern
  bool ignore_merges = false;   // a word that is a token is that token (llama.cpp's ignore_merges)
  bool add_bos = false;         // llama.cpp's default when tokenizer.ggml.add_bos_token is absent
};

const std::vector<PreTokenizerRule>& pre_tokenizer_rules() {
  static const std::vector<PreTokenizerRule> rules = {
      // GPT-2's regex: LLAMA_VOCAB_PRE_TYPE_GPT2, and "default" (older files, or none named) as
      // transformers reads it.
      {{"default", "gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais", "exaone4", "trillion", "granite-docling",
        "gigachat", "a.x-4.0", "mellum"},
       PreTokenizerRule::kGpt2Regex},
      // Each \p{N} on its own, then GPT-2's regex: the Digits(individual_digits) + ByteLevel of
      // these models' tokenizer.json (SmolLM2, StarCoder).
      {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2"},
       PreTokenizerRule::kDigitsThenGpt2Regex},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"},
       PreTokenizerRule::kSplit, kLlama3Split, /*ignore_merges=*/true, /*add_bos=*/true},
      {{"dbrx", "smaug-bpe"}, PreTokenizerRule::kSplit, kLlama3Split},
      {{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open"},
       PreTokenizerRule::kSplit, kQwen2Split},
      {{"qwen35"}, PreTokenizerRule::kSplit, kQwen35Split},
      {{"tekken"}, PreTokenizerRule::kSplit, kTekkenSplit, /*ignore_merges=*/true, /*add_bos=*/true},
      {{"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"}, PreTokenizerRule::kSplit, kGpt4oSplit},
  };
  return rules;
}

const PreTokenizerRule& pre_tokenizer_rule(const Metadata& meta) {
  // Absent in files older than llama.cpp's pre-tokenizer types: llama.cpp and transformers use
  // the default, and so does this.
  const std::string name = meta.optional_string("tokenizer.ggml.pre").value_or("default");
  std::string known;
  for (const PreTokenizerRule& rule : pre_tokenizer_rules())
    for (const std::string& candidate : rule.names) {
      if (candidate == name) return rule;
      known += known.empty() ? "" : ", ";
      known += candidate;
    }
  throw Error(cat(meta.where("tokenizer.ggml.pre"), ": pre-tokenizer '", name, "' is not supported (known: ", known,
                  ")"));
}

json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

json pre_tokenizer_json(const PreTokenizerRule& rule) {
  if (rule.kind == PreTokenizerRule::kGpt2Regex) return byte_level(true);
  if (rule.kind == PreTokenizerRule::kDigitsThenGpt2Regex)
    return {{"type", "Sequence"},
            {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)}}};
  const json split = {
      {"type", "Split"}, {"pattern", {{"Regex", rule.split}}}, {"behavior", "Isolated"}, {"invert", false}};
  return {{"type", "Sequence"}, {"pretokenizers", {split, byte_level(false)}}};
}

/// BOS/EOS as the vocabulary says, or only ByteLevel's offset trimming when neither is added.
json byte_level_post_processor(const Vocabulary& v) {
  if (!v.add_bos && !v.add_eos)
    return {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  auto special = [&](int64_t id, int type_id) {
    return json{{"SpecialToken", {{"id", v.tokens[id]}, {"type_id", type_id}}}};
  };
  auto template_for = [&](const char* sequence, int type_id) {
    json items = json::array();
    if (v.add_bos) items.push_back(special(*v.bos, type_id));
    items.push_back({{"Sequence", {{"id", sequence}, {"type_id", type_id}}}});
    if (v.add_eos) items.push_back(special(*v.eos, type_id));
    return items;
  };
  json pair = template_for("A", 0);
  for (const json& item : template_for("B", 1)) pair.push_back(item);
  json special_tokens = json::object();
  for (const auto& [add, id] : {std::make_pair(v.add_bos, v.bos), std::make_pair(v.add_eos, v.eos)})
    if (add) special_tokens[v.tokens[*id]] = {{"id", v.tokens[*id]}, {"ids", {*id}}, {"tokens", {v.tokens[*id]}}};
  return {{"type", "TemplateProcessing"},
          {"single", template_for("A", 0)},
          {"pair", pair},
          {"special_tokens", special_tokens}};
}

json gpt2_tokenizer(const Metadata& meta, Vocabulary* vocabulary) {
  const PreTokenizerRule& rule = pre_tokenizer_rule(meta);
  *vocabulary = read_vocabulary(meta, rule.add_bos);
  Vocabulary& v = *vocabulary;

  json vocab = json::object();
  std::unordered_map<std::string, size_t> ids;
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    // llama.cpp renames empty tokens (padding slots in some files) so that they stay distinct.
    if (v.tokens[id].empty()) v.tokens[id] = cat("[EMPTY_", id, "]");
    const auto [it, inserted] = ids.emplace(v.tokens[id], id);
    MS_CHECK(inserted, meta.where("tokenizer.ggml.tokens"), ": token '", v.tokens[id], "' appears twice, as ids ",
             it->second, " and ", id);
    vocab[v.tokens[id]] = id;
  }

  const std::string merges_key = "tokenizer.ggml.merges";
  const json& merge_strings = meta.array(merges_key, [](const json& e) { return e.is_string(); }, "a string");
  json merges = json::array();
  for (size_t rank = 0; rank < merge_strings.size(); ++rank) {
    const std::string& text = merge_strings[rank].get_ref<const std::string&>();
    const size_t space = text.find(' ');
    MS_CHECK(space != std::string::npos && space > 0 && space + 1 < text.size() &&
                 text.find(' ', space + 1) == std::string::npos,
             meta.where(merges_key), ": merge ", rank, " '", text, "' is not two tokens separated by a space");
    const std::string left = text.substr(0, space), right = text.substr(space + 1);
    for (const std::string& token : {left, right, left + right})
      MS_CHECK(ids.count(token), meta.where(merges_key), ": merge ", rank, " '", text, "' needs token '", token,
               "', which is not in tokenizer.ggml.tokens");
    merges.push_back({left, right});
  }

  // Control tokens are special (skipped when decoding), user-defined ones are plain added
  // tokens; llama.cpp matches both whole in the raw text. llama.cpp treats unknown ones as control.
  json added_tokens = json::array();
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const int type = v.types[id];
    if (type == kControl || type == kUnknown || type == kUserDefined)
      added_tokens.push_back(added_token(id, v.tokens[id], type != kUserDefined));
  }

  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added_tokens},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre_tokenizer_json(rule)},
          {"post_processor", byte_level_post_processor(v)},
          {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", rule.ignore_merges},
            {"vocab", vocab},
            {"merges", merges}}}};
}

// ---------------------------------------------------------------------------------------------
// llama: SentencePiece BPE, merges recovered from the scores as for a .model file.

json llama_tokenizer(const Metadata& meta, Vocabulary* vocabulary) {
  // llama.cpp adds BOS to a SentencePiece vocabulary unless the file says otherwise.
  *vocabulary = read_vocabulary(meta, /*add_bos_default=*/true);
  const Vocabulary& v = *vocabulary;
  const std::string scores_key = "tokenizer.ggml.scores";
  const json& scores = meta.array(scores_key, [](const json& e) { return e.is_number(); }, "a number");
  MS_CHECK(scores.size() == v.tokens.size(), meta.where(scores_key), " has ", scores.size(),
           " entries but tokenizer.ggml.tokens has ", v.tokens.size());

  std::vector<sentencepiece::Piece> pieces(v.tokens.size());
  bool has_byte_pieces = false;
  for (size_t id = 0; id < pieces.size(); ++id) {
    pieces[id] = {v.tokens[id], scores[id].get<float>(), v.types[id]};
    has_byte_pieces |= v.types[id] == kByte;
  }
  auto narrow = [](const std::optional<int64_t>& id) { return id ? std::optional<int>(*id) : std::nullopt; };
  sentencepiece::Options options;
  options.source = meta.where("tokenizer.ggml.tokens");
  options.unk_id = narrow(v.unk);
  options.bos_id = narrow(v.bos);
  options.eos_id = narrow(v.eos);
  options.add_bos = v.add_bos;
  options.add_eos = v.add_eos;
  options.add_dummy_prefix = meta.optional_bool("tokenizer.ggml.add_space_prefix").value_or(true);
  // A GGUF keeps no byte_fallback flag; <0xNN> pieces exist exactly when the model has it.
  options.byte_fallback = has_byte_pieces;
  return sentencepiece::to_tokenizer_json(pieces, options);
}

std::optional<std::string> token_text(const Vocabulary& v, const std::optional<int64_t>& id) {
  if (!id) return std::nullopt;
  return v.tokens[*id];
}

json text_or_null(const std::optional<std::string>& text) { return text ? json(*text) : json(nullptr); }
json id_or_null(const std::optional<int64_t>& id) { return id ? json(*id) : json(nullptr); }

}  // namespace

TokenizerFiles hf_tokenizer(const File& file) {
  const Metadata meta(file);
  const std::string model = meta.string("tokenizer.ggml.model");
  TokenizerFiles files;
  Vocabulary v;
  if (model == "gpt2") {
    files.tokenizer = gpt2_tokenizer(meta, &v);
  } else if (model == "llama") {
    files.tokenizer = llama_tokenizer(meta, &v);
  } else {
    throw Error(cat(meta.where("tokenizer.ggml.model"), ": tokenizer model '", model,
                    "' is not supported (gpt2 and llama are)"));
  }

  json added_tokens_decoder = json::object();
  for (const json& token : files.tokenizer["added_tokens"]) {
    json entry = token;
    entry.erase("id");
    added_tokens_decoder[std::to_string(token["id"].get<int64_t>())] = entry;
  }
  json config = {
      {"add_bos_token", v.add_bos},
      {"add_eos_token", v.add_eos},
      {"bos_token", text_or_null(token_text(v, v.bos))},
      {"eos_token", text_or_null(token_text(v, v.eos))},
      {"unk_token", text_or_null(token_text(v, v.unk))},
      {"pad_token", text_or_null(token_text(v, v.pad))},
      {"added_tokens_decoder", added_tokens_decoder},
      {"clean_up_tokenization_spaces", false},
      // Not GPT2Tokenizer or LlamaTokenizer: transformers 5 rebuilds those classes' pre-tokenizer
      // and normaliser from its own defaults and keeps only the vocabulary and merges of
      // tokenizer.json (SmolLM2's Digits would be lost). This name runs the file as written.
      {"tokenizer_class", "PreTrainedTokenizerFast"},
  };
  if (const auto chat_template = meta.optional_string("tokenizer.chat_template"))
    config["chat_template"] = *chat_template;
  if (const auto arch = meta.optional_string("general.architecture"))
    if (const auto context = meta.optional_integer(*arch + ".context_length")) config["model_max_length"] = *context;
  files.tokenizer_config = std::move(config);
  files.special_token_ids = {
      {"bos_token_id", id_or_null(v.bos)}, {"eos_token_id", id_or_null(v.eos)}, {"pad_token_id", id_or_null(v.pad)}};
  return files;
}

}  // namespace modelswarm::gguf
