// Pieces shared by the built-in utilities: prompt formatting, harness-style tokenisation of
// (context, continuation) pairs, generation options and answer matching.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "modelswarm/model/evaluator.h"
#include "modelswarm/utility/chat_template.h"
#include "modelswarm/utility/dataset.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm {
class JsonReader;
}

namespace modelswarm::utility {

/// `chat_template` and `system_prompt` of a utility object.
struct PromptFormat {
  std::optional<ChatTemplate> chat;
  std::string system;

  static PromptFormat read(JsonReader& config);
  /// The text given to the model for `prompt`.
  std::string apply(const std::string& prompt, const TokenEncoder& encoder) const;
  /// BOS is added by the tokenizer unless a chat template spells it out.
  bool add_special_tokens() const { return !chat.has_value(); }
};

/// P for a particle tensor: rows of (P, D), or 1 for an undefined tensor (the base model).
int64_t particle_count(const at::Tensor& particles);

/// Tokenises context + continuation as lm-eval-harness does: whitespace at the end of the
/// context moves to the continuation, the whole is encoded, and the continuation is what follows
/// the context's tokens, so that both score the same token boundaries the model saw in training.
/// An empty context scores from BOS (or EOS when the model has no BOS).
model::ScoringRequest pair_request(const TokenEncoder& encoder, std::string context, std::string continuation,
                                   bool add_special_tokens, const std::string& where);

/// Tokens of a generation prompt.
model::GenerationRequest generation_request(const TokenEncoder& encoder, const std::string& prompt,
                                            bool add_special_tokens);

/// `max_new_tokens`, `stop` (and `temperature`, `top_p`, `seed`) of a utility object.
model::GenerationOptions read_generation_options(JsonReader& config, int64_t default_max_new_tokens,
                                                 const std::vector<std::string>& default_stop);

/// A path from a utility's config: absolute as given, else relative to the config file's directory.
std::filesystem::path config_path(const UtilityContext& context, const std::string& path);

/// Throws ConfigError naming `where` when template `templ` names a field that is none of `names`
/// and not a key of the data's first record.
void check_template_fields(const std::string& templ, const std::string& where, const TaskData& data,
                           const std::vector<std::string>& names);

/// Strips surrounding whitespace.
std::string trim(const std::string& s);
/// The last number in `text` ("1,234.5" -> 1234.5; "-3" -> -3), or nothing.
std::optional<double> last_number(const std::string& text);

/// Mean of (P, R) 0/1 or real scores per particle.
std::vector<double> row_means(const std::vector<std::vector<double>>& scores);

}  // namespace modelswarm::utility
