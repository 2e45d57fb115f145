// Regular expressions through PCRE2 (UTF + UCP), so that the patterns of tokenizer.json and
// PEFT (lookahead, \p{L}, \p{N}) run exactly as written. std::regex cannot.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace modelswarm {

class Regex {
 public:
  /// Compiles `pattern`; throws Error naming `what` (a file or key) when it is invalid.
  explicit Regex(const std::string& pattern, const std::string& what = "regex");
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  /// True when the whole of `text` matches.
  bool full_match(std::string_view text) const;
  /// First match at or after byte `start`: {begin, end} byte offsets, or {npos, npos}.
  std::pair<size_t, size_t> find(std::string_view text, size_t start = 0) const;
  /// Capture group `group` of the first match, or nothing.
  bool search(std::string_view text, std::vector<std::string>* groups = nullptr) const;
  /// Every non-overlapping match, as {begin, end} byte offsets.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::string pattern_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace modelswarm
