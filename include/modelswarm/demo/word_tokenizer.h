// A real byte-level BPE tokenizer.json (GPT-2 style, loadable by Hugging Face `tokenizers`)
// whose merges turn each word of a small closed vocabulary into a single token; any other text
// still encodes, byte by byte. Special tokens: <s> (BOS, prepended) and </s> (EOS).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace modelswarm::demo {

/// `words` as they occur in text, a leading space included (" Zorba", "The"). Ids: the 256 byte
/// symbols, then one per merge, then <s> and </s>.
nlohmann::json word_level_bpe(const std::vector<std::string>& words);

}  // namespace modelswarm::demo
