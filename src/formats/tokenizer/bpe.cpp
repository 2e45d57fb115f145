#include "formats/tokenizer/bpe.h"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "modelswarm/common/error.h"

namespace modelswarm::tokenizer {
namespace {

uint64_t pair_key(int64_t left, int64_t right) {
  return (static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right);
}

bool is_unset(const nlohmann::json& model, const char* key) {
  return !model.contains(key) || model[key].is_null();
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& model, const std::string& source) {
  auto where = [&](const auto&... what) { return cat(source, ": BPE model: ", what...); };
  MS_CHECK(model.contains("vocab") && model["vocab"].is_object(), where("\"vocab\" must be an object"));
  for (const auto& [token, id] : model["vocab"].items()) {
    MS_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (int64_t{1} << 31),
             where("vocab entry '", token, "' has no valid id"));
    vocab_.emplace(token, id.get<int64_t>());
  }
  if (!is_unset(model, "dropout"))
    MS_CHECK(model["dropout"].get<double>() == 0.0, where("dropout is not supported"));
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    MS_CHECK(is_unset(model, key) || model[key].get<std::string>().empty(), where(key, " is not supported"));
  if (!is_unset(model, "unk_token")) {
    auto it = vocab_.find(model["unk_token"].get<std::string>());
    if (it != vocab_.end()) unk_id_ = it->second;
  }
  fuse_unk_ = model.value("fuse_unk", false);
  byte_fallback_ = model.value("byte_fallback", false);
  ignore_merges_ = model.value("ignore_merges", false);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = vocab_.find(name);
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
  }

  const nlohmann::json merges = model.value("merges", nlohmann::json::array());
  MS_CHECK(merges.is_array(), where("\"merges\" must be an array"));
  auto id_of = [&](const std::string& token, size_t rank) {
    auto it = vocab_.find(token);
    MS_CHECK(it != vocab_.end(), where("merge ", rank, " names '", token, "', which is not in the vocabulary"));
    return it->second;
  };
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& merge = merges[rank];
    std::string left, right;
    if (merge.is_string()) {  // "a b"
      const auto& text = merge.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      MS_CHECK(space != std::string::npos && text.find(' ', space + 1) == std::string::npos,
               where("merge ", rank, " '", text, "' is not of the form \"a b\""));
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      throw Error(where("merge ", rank, " is neither \"a b\" nor [\"a\", \"b\"]"));
    }
    const int64_t left_id = id_of(left, rank), right_id = id_of(right, rank);
    const int64_t merged = id_of(left + right, rank);
    // The first occurrence of a pair wins, as in the tokenizers library.
    merges_.emplace(pair_key(left_id, right_id), std::make_pair(static_cast<int32_t>(rank), merged));
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<int64_t>* out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    auto it = vocab_.find(std::string(word));
    if (it != vocab_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(std::string(word));
    if (it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int64_t> ids = merge_word(word);
  out->insert(out->end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() > 200000) cache_.clear();  // bounded memory on adversarial input
  cache_.emplace(std::string(word), std::move(ids));
}

std::vector<int64_t> BpeModel::merge_word(std::string_view word) const {
  // Initial symbols: one per character, else its <0xNN> bytes, else unk (fused when asked).
  std::vector<int64_t> symbols;
  bool previous_unk = false;
  for (size_t i = 0; i < word.size();) {
    const size_t n = std::min(utf8_length(static_cast<unsigned char>(word[i])), word.size() - i);
    auto it = vocab_.find(std::string(word.substr(i, n)));
    bool unk = false;
    if (it != vocab_.end()) {
      symbols.push_back(it->second);
    } else {
      bool bytes_known = byte_fallback_;
      for (size_t k = 0; bytes_known && k < n; ++k) bytes_known = byte_ids_[static_cast<unsigned char>(word[i + k])] >= 0;
      if (bytes_known) {
        for (size_t k = 0; k < n; ++k) symbols.push_back(byte_ids_[static_cast<unsigned char>(word[i + k])]);
      } else if (unk_id_) {
        unk = true;
        if (!(fuse_unk_ && previous_unk)) symbols.push_back(*unk_id_);
      }  // no unk token: the character is dropped, as in the tokenizers library
    }
    previous_unk = unk;
    i += n;
  }

  // Merge the lowest-ranked adjacent pair (leftmost on ties) until none applies. Symbols form a
  // linked list; queue entries that went stale after a neighbouring merge are skipped.
  const int n = static_cast<int>(symbols.size());
  std::vector<int> next(n), prev(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  struct Candidate {
    int32_t rank;
    int position;
    int64_t left, right, merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : position > o.position; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push = [&](int position) {
    if (position < 0 || next[position] < 0) return;
    auto it = merges_.find(pair_key(symbols[position], symbols[next[position]]));
    if (it != merges_.end())
      queue.push({it->second.first, position, symbols[position], symbols[next[position]], it->second.second});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const int right = alive[c.position] ? next[c.position] : -1;
    if (right < 0 || symbols[c.position] != c.left || symbols[right] != c.right) continue;  // stale
    symbols[c.position] = c.merged;
    alive[right] = false;
    next[c.position] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.position;
    push(prev[c.position]);
    push(c.position);
  }
  std::vector<int64_t> ids;
  for (int i = n > 0 ? 0 : -1; i >= 0; i = next[i]) ids.push_back(symbols[i]);
  return ids;
}

}  // namespace modelswarm::tokenizer
