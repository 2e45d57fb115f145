#include "modelswarm/train/sft_data.h"

#include <algorithm>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/records.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::train {

TokenizedExample tokenize_pair(const tokenizer::Tokenizer& tok, const std::string& prompt,
                               const std::string& completion, const std::string& where,
                               bool add_special_tokens) {
  // Encoding the pair as a whole keeps merges across the boundary; the completion is what
  // follows the longest common prefix with the prompt alone.
  const std::vector<int64_t> context = tok.encode(prompt, add_special_tokens);
  TokenizedExample e;
  e.tokens = tok.encode(prompt + completion, add_special_tokens);
  const auto mismatch = std::mismatch(context.begin(), context.end(), e.tokens.begin(), e.tokens.end());
  e.prompt_tokens = static_cast<int64_t>(mismatch.second - e.tokens.begin());
  if (e.prompt_tokens >= static_cast<int64_t>(e.tokens.size()))
    throw Error(cat(where, ": the completion adds no tokens to the prompt"));
  const auto eos = tok.eos_ids();
  if (!eos.empty()) e.tokens.push_back(eos.front());
  return e;
}

std::vector<TokenizedExample> read_sft_data(const std::filesystem::path& path, const tokenizer::Tokenizer& tok,
                                            const SftFields& fields, int64_t max_tokens,
                                            const SftPromptFormat& format) {
  const auto encoder = utility::tokenizer_encoder(tok);
  std::vector<TokenizedExample> data;
  for (const auto& record : records::read_records(path)) {
    const std::string where = records::record_location(path, record);
    auto text = [&](const std::string& key) {
      if (!record.fields.contains(key)) throw Error(cat(where, ": missing field \"", key, "\""));
      if (!record.fields[key].is_string()) throw Error(cat(where, ": field \"", key, "\" must be a string"));
      return record.fields[key].get<std::string>();
    };
    const std::string prompt =
        format.chat ? format.chat->apply(text(fields.prompt), format.system, *encoder) : text(fields.prompt);
    TokenizedExample e = tokenize_pair(tok, prompt, text(fields.completion), where, !format.chat.has_value());
    if (static_cast<int64_t>(e.tokens.size()) > max_tokens)
      throw Error(cat(where, ": ", e.tokens.size(), " tokens, more than --max-length ", max_tokens));
    data.push_back(std::move(e));
  }
  return data;
}

}  // namespace modelswarm::train
