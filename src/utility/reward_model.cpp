// reward_model: each particle's generations are scored by a reward model, a Hugging Face
// *ForSequenceClassification checkpoint (model/reward_model.h) reading the prompt followed by the
// response. Rewards are unbounded, so they are mapped to [0, 1] with the configured bounds:
//   utility = mean over examples of clamp((reward - lo) / (hi - lo), 0, 1).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "modelswarm/common/json_reader.h"
#include "modelswarm/formats/hf_cache.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/model/reward_model.h"
#include "utility/builtin.h"
#include "utility/common.h"

namespace modelswarm::utility {

namespace {

class RewardModelUtility : public Utility {
 public:
  RewardModelUtility(JsonReader& config, const UtilityContext& context) : load_(context.load_reward_model) {
    format_ = PromptFormat::read(config);
    generation_ = read_generation_options(config, /*default_max_new_tokens=*/64, {"\n\n"});
    reward_dir_ = hf::resolve_path(config.get<std::string>("reward_model"), context.base_dir,  // a path or a Hub id
                                   config.where("reward_model"));
    try {  // config.json and the tensor names only: the weights load when the first particle is scored
      model::check_reward_model(reward_dir_);
    } catch (const Error& e) {
      config.fail("reward_model", e.what());
    }
    read_bounds(config);
    reward_template_ = config.get_or<std::string>("reward_prompt_template", "{prompt}");
    template_where_ = config.where("reward_prompt_template");
    if (config.has("reward_chat_template"))
      reward_chat_ = ChatTemplate::parse(config.get<std::string>("reward_chat_template"),
                                         config.where("reward_chat_template"));
    reward_system_ = config.get_or<std::string>("reward_system_prompt", "");
    if (!reward_system_.empty() && !reward_chat_) config.fail("reward_system_prompt", "needs a reward_chat_template");
    JsonReader data = config.object("data");
    data_ = load_task_data(data, context.base_dir, {{Role::kPrompt}, {}});
    check_template_fields(reward_template_, template_where_, data_, {"prompt"});
  }

  Scores score(model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
               Split split) override {
    const auto& examples = split_examples(data_, split);
    const auto outputs =
        generate_for_split(evaluator, encoder, particles, examples, split, format_, generation_, cache_);
    if (!reward_.model) {
      if (!load_) throw Error("reward_model utility: this command cannot load the reward model");
      reward_ = load_(reward_dir_);
    }
    // All particles' responses in one reward-model call: sequence p·E + i is particle p, example i.
    const auto& prompts = reward_prompts(split, examples);
    std::vector<std::vector<int64_t>> sequences;
    for (const auto& particle_outputs : outputs)
      for (size_t i = 0; i < examples.size(); ++i)
        sequences.push_back(reward_.encoder->encode(prompts[i] + particle_outputs.at(i), add_special_tokens()));
    const at::Tensor rewards = reward_.model->score(sequences).to(at::kDouble).contiguous();  // (P·E)
    MS_CHECK(rewards.numel() == static_cast<int64_t>(sequences.size()), "reward model returned ", rewards.numel(),
             " scores for ", sequences.size(), " texts");
    const double* r = rewards.data_ptr<double>();
    std::vector<std::vector<double>> raw(outputs.size()), normalised(outputs.size());
    for (size_t p = 0; p < outputs.size(); ++p)
      for (size_t i = 0; i < examples.size(); ++i) {
        const double reward = r[p * examples.size() + i];
        MS_CHECK(std::isfinite(reward), "reward model ", reward_dir_.string(), ": reward ", reward, " for particle ", p,
                 " on ", examples[i].location);
        raw[p].push_back(reward);
        normalised[p].push_back(std::clamp((reward - lo_) / (hi_ - lo_), 0.0, 1.0));
      }
    Scores s;
    s.metrics["reward"] = row_means(normalised);
    s.metrics["raw_reward"] = row_means(raw);
    s.utility = s.metrics["reward"];
    return s;
  }

  UtilityInfo info() const override {
    return task_data_info("reward_model", "reward", data_,
                          cat("reward by ", hf::display_name(reward_dir_), " in [", lo_, ", ", hi_, "]"));
  }

 private:
  void read_bounds(JsonReader& config) {
    const auto bounds = config.get<std::vector<double>>("bounds");
    if (bounds.size() != 2) config.fail("bounds", cat("expected [lo, hi], got ", bounds.size(), " numbers"));
    lo_ = bounds[0];
    hi_ = bounds[1];
    if (!(lo_ < hi_)) config.fail("bounds", cat("lo must be below hi, got [", lo_, ", ", hi_, "]"));
  }

  // BOS comes from the tokenizer unless the reward chat template spells it out.
  bool add_special_tokens() const { return !reward_chat_.has_value(); }

  // What the reward model reads before each response, per example of a split (cached).
  const std::vector<std::string>& reward_prompts(Split split, const std::vector<Example>& examples) {
    return prompt_cache_.get(*reward_.encoder, split, [&] {
      std::vector<std::string> prompts;
      for (const auto& ex : examples) {
        nlohmann::json fields = ex.fields;
        fields["prompt"] = ex.prompt;
        const std::string text = render_template(reward_template_, fields, ex.location);
        prompts.push_back(reward_chat_ ? reward_chat_->apply(text, reward_system_, *reward_.encoder) : text);
      }
      return prompts;
    });
  }

  std::function<LoadedRewardModel(const std::filesystem::path&)> load_;
  PromptFormat format_;
  model::GenerationOptions generation_;
  std::filesystem::path reward_dir_;
  double lo_ = 0, hi_ = 1;
  std::string reward_template_, template_where_;
  std::optional<ChatTemplate> reward_chat_;
  std::string reward_system_;
  TaskData data_;
  LoadedRewardModel reward_;
  SplitCache<std::vector<model::GenerationRequest>> cache_;
  SplitCache<std::vector<std::string>> prompt_cache_;
};

}  // namespace

void register_reward_model() { register_utility<RewardModelUtility>("reward_model"); }

}  // namespace modelswarm::utility
