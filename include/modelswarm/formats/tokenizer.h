// Hugging Face tokenizer.json: byte-level BPE (GPT-2, Llama-3, Qwen2 splits through PCRE2) and
// SentencePiece-style BPE (Prepend/Replace normalisers or Metaspace, <0xNN> byte fallback),
// added/special tokens, and decoding. BOS/EOS come from the model directory's configs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modelswarm::tokenizer {

class Tokenizer {
 public:
  /// Loads tokenizer.json; throws Error naming the file and the problem.
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  /// tokenizer.json of a model directory (or, without one, its SentencePiece tokenizer.model),
  /// with BOS/EOS/pad from tokenizer_config.json, config.json and generation_config.json.
  static Tokenizer from_model_dir(const std::filesystem::path& directory);
  /// An already parsed tokenizer.json; `source` names it in errors.
  static Tokenizer from_json(const nlohmann::json& spec, const std::string& source);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  /// Token ids of `text`; with add_special_tokens, the BOS the model expects (post-processor).
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens = false) const;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;
  /// The text `continuation` adds after `prompt`. Decoding the new ids alone would lose a
  /// leading space (SentencePiece decoders strip the first one), so this decodes prompt +
  /// continuation and drops the decoded prompt.
  std::string decode_continuation(const std::vector<int64_t>& prompt, const std::vector<int64_t>& continuation) const;

  int64_t vocab_size() const;  // largest id + 1, added tokens included
  std::optional<int64_t> token_to_id(const std::string& token) const;
  std::optional<int64_t> bos_id() const;
  std::vector<int64_t> eos_ids() const;  // may be several (generation_config.json)
  std::optional<int64_t> pad_id() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace modelswarm::tokenizer
