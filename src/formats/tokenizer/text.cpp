#include "formats/tokenizer/text.h"

#include <utf8proc.h>

#include <array>
#include <cstdlib>
#include <memory>

#include "modelswarm/common/error.h"

namespace modelswarm::tokenizer {
namespace {

struct ByteLevelAlphabet {
  std::array<std::string, 256> to_unicode;
  std::array<int, 512> to_byte;  // every stand-in code point is below 512
  ByteLevelAlphabet() {
    to_byte.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? b : 256 + extra++;
      to_unicode[b] = encode_codepoint(cp);
      to_byte[cp] = b;
    }
  }
};

const ByteLevelAlphabet& alphabet() {
  static const ByteLevelAlphabet instance;
  return instance;
}

}  // namespace

const std::string& byte_to_unicode(unsigned char b) { return alphabet().to_unicode[b]; }

int unicode_to_byte(char32_t codepoint) { return codepoint < 512 ? alphabet().to_byte[codepoint] : -1; }

int32_t next_codepoint(std::string_view text, size_t* pos) {
  utf8proc_int32_t cp = -1;
  const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data()) + *pos,
                                  static_cast<utf8proc_ssize_t>(text.size() - *pos), &cp);
  if (n <= 0) {
    *pos += 1;
    return -1;
  }
  *pos += static_cast<size_t>(n);
  return cp;
}

std::string encode_codepoint(char32_t codepoint) {
  utf8proc_uint8_t buffer[4];
  const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(codepoint), buffer);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

bool is_valid_utf8(std::string_view bytes) {
  for (size_t pos = 0; pos < bytes.size();)
    if (next_codepoint(bytes, &pos) < 0) return false;
  return true;
}

std::string utf8_lossy(std::string_view bytes) {
  static const std::string kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(bytes.size());
  for (size_t pos = 0; pos < bytes.size();) {
    const size_t start = pos;
    if (next_codepoint(bytes, &pos) >= 0) {
      out.append(bytes.substr(start, pos - start));
      continue;
    }
    // Like Rust: one U+FFFD per maximal prefix of a valid sequence (the lead byte plus the
    // continuation bytes that could still have completed it).
    const auto lead = static_cast<unsigned char>(bytes[start]);
    size_t expected = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 && lead < 0xE0 ? 2 : 1;
    size_t end = start + 1;
    for (size_t k = 1; k < expected && end < bytes.size(); ++k, ++end) {
      const auto c = static_cast<unsigned char>(bytes[end]);
      unsigned char lo = 0x80, hi = 0xBF;
      if (k == 1 && lead == 0xE0) lo = 0xA0;
      if (k == 1 && lead == 0xED) hi = 0x9F;
      if (k == 1 && lead == 0xF0) lo = 0x90;
      if (k == 1 && lead == 0xF4) hi = 0x8F;
      if (c < lo || c > hi) break;
    }
    out += kReplacement;
    pos = end;
  }
  return out;
}

std::string nfc(std::string_view text) {
  if (text.empty()) return {};
  std::string copy(text);  // utf8proc_NFC wants a NUL-terminated string
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> normalized(
      utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(copy.c_str())), &std::free);
  MS_CHECK(normalized, "NFC normalisation failed: the text is not valid UTF-8");
  return std::string(reinterpret_cast<const char*>(normalized.get()));
}

bool is_whitespace(int32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool is_word_char(int32_t cp) {
  if (cp == '_') return true;
  const auto category = utf8proc_category(cp);
  return (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO) ||
         (category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO);
}

}  // namespace modelswarm::tokenizer
