// The BPE model of tokenizer.json: vocabulary, ranked merges, byte fallback and unk, with a
// per-word cache (words repeat a lot in natural text).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace modelswarm::tokenizer {

class BpeModel {
 public:
  /// `model` is the "model" object of tokenizer.json; `source` names the file in errors.
  BpeModel(const nlohmann::json& model, const std::string& source);

  /// Appends the ids of one pre-tokenized word to `out`.
  void encode_word(std::string_view word, std::vector<int64_t>* out) const;

  const std::unordered_map<std::string, int64_t>& vocab() const { return vocab_; }

 private:
  std::vector<int64_t> merge_word(std::string_view word) const;

  std::unordered_map<std::string, int64_t> vocab_;
  // (left id << 32 | right id) -> {rank, merged id}
  std::unordered_map<uint64_t, std::pair<int32_t, int64_t>> merges_;
  std::optional<int64_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  int64_t byte_ids_[256];  // <0xNN> ids, -1 when absent

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
};

/// Length in bytes of the UTF-8 sequence that starts with `lead` (1 for stray bytes).
inline size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

}  // namespace modelswarm::tokenizer
