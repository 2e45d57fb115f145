// Text helpers shared by the tokenizer stages: byte-level alphabet, lossy UTF-8, NFC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace modelswarm::tokenizer {

/// GPT-2's byte-to-character map: byte b -> the UTF-8 of its printable stand-in.
const std::string& byte_to_unicode(unsigned char b);
/// The inverse: the byte for a stand-in code point, or -1 when `codepoint` is not one.
int unicode_to_byte(char32_t codepoint);

/// Decodes one code point at `text[*pos]` and advances; returns -1 for invalid UTF-8.
int32_t next_codepoint(std::string_view text, size_t* pos);
std::string encode_codepoint(char32_t codepoint);

/// Valid UTF-8 with each invalid sequence replaced by U+FFFD (Rust's from_utf8_lossy).
std::string utf8_lossy(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

/// Unicode NFC; throws Error on invalid UTF-8.
std::string nfc(std::string_view text);

/// Unicode White_Space, and "word" characters (letters, digits, underscore) for single_word.
bool is_whitespace(int32_t codepoint);
bool is_word_char(int32_t codepoint);

}  // namespace modelswarm::tokenizer
