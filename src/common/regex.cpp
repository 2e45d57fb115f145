#include "modelswarm/common/regex.h"

#include <pcre2.h>

#include "modelswarm/common/error.h"

namespace modelswarm {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  ~Impl() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pattern, const std::string& what)
    : pattern_(pattern), impl_(std::make_unique<Impl>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    throw Error(cat(what, ": invalid regular expression '", pattern, "' at offset ", error_offset,
                    ": ", reinterpret_cast<const char*>(message)));
  }
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // best effort: falls back to the interpreter
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

namespace {

struct MatchData {
  pcre2_match_data* data;
  explicit MatchData(const pcre2_code* code)
      : data(pcre2_match_data_create_from_pattern(code, nullptr)) {}
  ~MatchData() { pcre2_match_data_free(data); }
};

// Returns the number of captured pairs, 0 when there is no match; throws on matcher errors
// (invalid UTF-8 in the subject, match limits).
int match(const pcre2_code* code, std::string_view text, size_t start, uint32_t options,
          pcre2_match_data* data, const std::string& pattern) {
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start, options,
                       data, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  if (rc < 0) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(rc, message, sizeof(message));
    throw Error(cat("regex '", pattern, "': ", reinterpret_cast<const char*>(message)));
  }
  return rc;
}

}  // namespace

bool Regex::full_match(std::string_view text) const {
  MatchData md(impl_->code);
  if (match(impl_->code, text, 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, md.data, pattern_) == 0)
    return false;
  return true;
}

std::pair<size_t, size_t> Regex::find(std::string_view text, size_t start) const {
  MatchData md(impl_->code);
  if (start > text.size() || match(impl_->code, text, start, 0, md.data, pattern_) == 0)
    return {std::string::npos, std::string::npos};
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(md.data);
  return {ovector[0], ovector[1]};
}

bool Regex::search(std::string_view text, std::vector<std::string>* groups) const {
  MatchData md(impl_->code);
  const int n = match(impl_->code, text, 0, 0, md.data, pattern_);
  if (n == 0) return false;
  if (groups) {
    groups->clear();
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(md.data);
    for (int i = 0; i < n; ++i) {
      if (ovector[2 * i] == PCRE2_UNSET) {
        groups->emplace_back();
      } else {
        groups->emplace_back(text.substr(ovector[2 * i], ovector[2 * i + 1] - ovector[2 * i]));
      }
    }
  }
  return true;
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> out;
  MatchData md(impl_->code);
  size_t start = 0;
  while (start <= text.size()) {
    if (match(impl_->code, text, start, 0, md.data, pattern_) == 0) break;
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(md.data);
    size_t begin = ovector[0], end = ovector[1];
    if (end == begin) {
      // Empty match: record it and step over one whole UTF-8 character.
      out.emplace_back(begin, end);
      size_t next = begin + 1;
      while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
      start = next;
      continue;
    }
    out.emplace_back(begin, end);
    start = end;
  }
  return out;
}

}  // namespace modelswarm
