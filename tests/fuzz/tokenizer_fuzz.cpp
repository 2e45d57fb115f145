// libFuzzer target: a tokenizer.json, optionally followed by a NUL byte and a text. Loading must
// give a Tokenizer or modelswarm::Error; a loaded tokenizer must encode the text (or a fixed
// mix of scripts, specials and digits) to ids inside its vocabulary, and decode any ids, its
// own or arbitrary ones, to a string or an Error. Nothing else.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/tokenizer.h"

namespace {

constexpr std::string_view kDefaultText =
    "Hello world, caf\xc3\xa9 na\xc3\xafve \xf0\x9f\x98\x80 \xe6\xbc\xa2\xe5\xad\x97 <|endoftext|> 1234 \t\r\n  x";

void check_ids(const std::vector<int64_t>& ids, int64_t vocab_size) {
  for (int64_t id : ids)
    if (id < 0 || id >= vocab_size) __builtin_trap();  // an id the embedding table does not have
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t json_size = nul ? static_cast<size_t>(nul - data) : size;
  const std::string_view text =
      nul ? std::string_view(reinterpret_cast<const char*>(nul + 1), size - json_size - 1) : kDefaultText;
  auto spec = nlohmann::json::parse(data, data + json_size, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded()) return 0;
  try {
    const auto tokenizer = modelswarm::tokenizer::Tokenizer::from_json(spec, "fuzz/tokenizer.json");
    const int64_t vocab = tokenizer.vocab_size();
    const auto plain = tokenizer.encode(text, /*add_special_tokens=*/false);
    check_ids(plain, vocab);
    const auto special = tokenizer.encode(text, /*add_special_tokens=*/true);
    check_ids(special, vocab);
    (void)tokenizer.decode(plain);
    (void)tokenizer.decode(special, /*skip_special_tokens=*/false);
    (void)tokenizer.decode_continuation(special, plain);
    // Ids a model could sample, including ones past the vocabulary.
    std::vector<int64_t> arbitrary;
    for (unsigned char c : text.substr(0, 64)) arbitrary.push_back(static_cast<int64_t>(c) * 7 - 3);
    (void)tokenizer.decode(arbitrary);
  } catch (const modelswarm::Error&) {
  }
  return 0;
}
