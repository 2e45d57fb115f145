// Utility functions: what the swarm maximises. A utility is a plug-in built from the `utility`
// object of the task config (registry keyed by its "type"), scoring P particles at once through
// the engine's Evaluator, so that every utility shares its multi-particle batching.
// Sign convention: higher is better.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modelswarm {
class JsonReader;
}
namespace modelswarm::model {
class Evaluator;
class RewardModel;
struct EngineOptions;
}
namespace modelswarm::tokenizer {
class Tokenizer;
}

namespace modelswarm::utility {

/// dev: what the search maximises; validation (optional): held out from the search, used to pick
/// among its best candidates; test: reported only.
enum class Split { kDev, kValidation, kTest };
const char* split_name(Split split);

/// The tokenizer functions utilities need. The engine's tokenizer is wrapped by
/// tokenizer_encoder(); tests substitute a deterministic one.
class TokenEncoder {
 public:
  virtual ~TokenEncoder() = default;
  virtual std::vector<int64_t> encode(std::string_view text, bool add_special_tokens) const = 0;
  virtual std::optional<int64_t> bos_id() const = 0;
  virtual std::vector<int64_t> eos_ids() const = 0;
  /// The text of one special token ("<s>"), for chat templates that spell out BOS.
  virtual std::string token_text(int64_t id) const = 0;
  /// Identifies the underlying tokenizer: token ids cached by a utility belong to it.
  virtual const void* identity() const { return this; }
};

/// P utilities plus every metric the utility computed on the way ([P] each), for reports.
struct Scores {
  std::vector<double> utility;                        // [P]
  std::map<std::string, std::vector<double>> metrics;  // e.g. {"acc": [P], "acc_norm": [P]}
};

struct UtilityInfo {
  std::string type;         // "multiple_choice"
  std::string metric;       // the metric that is the utility ("acc_norm")
  std::string description;  // one line for reports ("multiple_choice acc on commonsense_qa.jsonl")
  int64_t dev_examples = 0;
  int64_t validation_examples = 0;
  int64_t test_examples = 0;

  int64_t examples(Split split) const {
    return split == Split::kDev ? dev_examples : split == Split::kValidation ? validation_examples : test_examples;
  }
};

class Utility {
 public:
  virtual ~Utility() = default;

  /// Scores P particles ((P, D) in the evaluator's pool layout; undefined = the base model, P = 1)
  /// on a split. Token ids are computed on the first call and reused afterwards.
  virtual Scores score(model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
                       Split split) = 0;
  virtual UtilityInfo info() const = 0;

  /// The same with the evaluator's own tokenizer (defined beside tokenizer_encoder()).
  Scores score(model::Evaluator& evaluator, const at::Tensor& particles, Split split);
};

/// The evaluator's tokenizer as a TokenEncoder (valid while the evaluator lives).
std::unique_ptr<TokenEncoder> tokenizer_encoder(model::Evaluator& evaluator);
/// A tokenizer as a TokenEncoder (valid while the tokenizer lives).
std::unique_ptr<TokenEncoder> tokenizer_encoder(const tokenizer::Tokenizer& tokenizer);

/// A second model (the LLM judge) with its tokenizer.
struct LoadedModel {
  std::unique_ptr<model::Evaluator> evaluator;
  std::unique_ptr<TokenEncoder> encoder;  // declared after: destroyed before the evaluator it wraps
};

/// A reward model (sequence classification) with its tokenizer.
struct LoadedRewardModel {
  std::unique_ptr<model::RewardModel> model;
  std::unique_ptr<TokenEncoder> encoder;  // declared after: destroyed before the model it wraps
};

/// What a utility may need besides its own config object.
struct UtilityContext {
  std::filesystem::path base_dir;  // relative paths resolve here (the config file's directory)
  /// Loads a second model (judge) on first use; commands that cannot leave it empty, and a judge
  /// utility then fails when it scores.
  std::function<LoadedModel(const std::filesystem::path&)> load_model;
  /// Loads a reward model on first use, the same way (empty: a reward_model utility fails when it scores).
  std::function<LoadedRewardModel(const std::filesystem::path&)> load_reward_model;
};

/// The context of a task config: relative paths resolve from the config file's directory, and a
/// second model (judge, reward model) is loaded by the engine with `engine` options.
UtilityContext task_context(const std::filesystem::path& config_file, const model::EngineOptions& engine);

using UtilityFactory = std::function<std::unique_ptr<Utility>(JsonReader& config, const UtilityContext& context)>;

/// Adds a utility type; T is constructed as T(JsonReader&, const UtilityContext&) and must read
/// every key it accepts (the registry rejects the rest).
void register_utility_factory(const std::string& name, UtilityFactory factory);

template <typename T>
void register_utility(const std::string& name) {
  register_utility_factory(name, [](JsonReader& config, const UtilityContext& context) -> std::unique_ptr<Utility> {
    return std::make_unique<T>(config, context);
  });
}

/// Names of the registered utility types, sorted.
std::vector<std::string> known_utilities();

/// Builds the utility described by `config` (the `utility` object); `source_name` names the
/// config file in messages. Throws ConfigError naming the key path (an unknown "type" lists the
/// known ones). Data files are read and validated here, before any search.
std::unique_ptr<Utility> make_utility(const nlohmann::json& config, const std::string& source_name,
                                      const UtilityContext& context, const std::string& key_path = "utility");

/// The same from a reader positioned on the utility object (composite utilities nest).
std::unique_ptr<Utility> make_utility(JsonReader& config, const UtilityContext& context);

}  // namespace modelswarm::utility
