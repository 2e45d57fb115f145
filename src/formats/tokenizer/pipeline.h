// The stages of a tokenizer.json around the model: normaliser, pre-tokenizer, decoder and
// post-processor, each built from its JSON object. Unsupported types throw one Error naming
// the file and the component.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace modelswarm::tokenizer {

/// A piece of text on its way to the model; `at_start` marks the piece that begins the input
/// (Metaspace's prepend_scheme "first" only prefixes that one).
struct Piece {
  std::string text;
  bool at_start = false;
};

using Normalizer = std::function<std::string(std::string)>;
using PreTokenizer = std::function<void(std::vector<Piece>&)>;
using Decoder = std::function<void(std::vector<std::string>&)>;

/// Null JSON gives the identity stage.
Normalizer make_normalizer(const nlohmann::json& spec, const std::string& source);
PreTokenizer make_pre_tokenizer(const nlohmann::json& spec, const std::string& source);
Decoder make_decoder(const nlohmann::json& spec, const std::string& source);

/// Ids a post-processor puts around a single sequence (add_special_tokens).
struct SpecialAffixes {
  std::vector<int64_t> prefix, suffix;
};
SpecialAffixes make_post_processor(const nlohmann::json& spec, const std::string& source,
                                   const std::function<int64_t(const std::string&)>& token_id);

}  // namespace modelswarm::tokenizer
