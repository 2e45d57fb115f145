#include "modelswarm/demo/word_tokenizer.h"

#include <map>
#include <set>

#include "formats/tokenizer/text.h"

namespace modelswarm::demo {

nlohmann::json word_level_bpe(const std::vector<std::string>& words) {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  int64_t next_id = 0;
  for (int b = 0; b < 256; ++b) vocab[tokenizer::byte_to_unicode(static_cast<unsigned char>(b))] = next_id++;

  // Merge k joins a word's first k symbols with its next one. Every left side starts at a word
  // start (a space symbol or a sentence-initial letter), so merges never fire inside a word
  // and every listed word ends as one token.
  nlohmann::json merges = nlohmann::json::array();
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& word : words) {
    std::vector<std::string> symbols;
    for (unsigned char byte : word) symbols.push_back(tokenizer::byte_to_unicode(byte));
    std::string prefix = symbols.empty() ? "" : symbols[0];
    for (size_t i = 1; i < symbols.size(); ++i) {
      if (seen.insert({prefix, symbols[i]}).second) {
        merges.push_back(prefix + " " + symbols[i]);
        if (!vocab.contains(prefix + symbols[i])) vocab[prefix + symbols[i]] = next_id++;
      }
      prefix += symbols[i];
    }
  }
  const int64_t bos = next_id++, eos = next_id++;
  auto special = [](int64_t id, const char* content) {
    return nlohmann::json{{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
                          {"rstrip", false}, {"normalized", false}, {"special", true}};
  };
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", {special(bos, "<s>"), special(eos, "</s>")}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {bos}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", nlohmann::json::parse(vocab.dump())}, {"merges", merges}}},
  };
}

}  // namespace modelswarm::demo
