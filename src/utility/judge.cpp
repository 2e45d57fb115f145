// judge: each particle's generations are rated by a second model, an LLM judge run through its
// own Evaluator (the paper's "human interest" utility: a 1-10 rating, parse failure = minimum).
// utility = mean over examples of clamp(rating, min_rating, max_rating).
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cstdlib>

#include "modelswarm/common/json_reader.h"
#include "modelswarm/common/regex.h"
#include "modelswarm/formats/hf_cache.h"
#include "modelswarm/model/evaluator.h"
#include "utility/builtin.h"
#include "utility/common.h"

namespace modelswarm::utility {

namespace {

const char* kDefaultJudgePrompt =
    "Please act as an impartial judge and rate the response below to the instruction on a scale of 1 to 10, "
    "where 10 is the most helpful, accurate and interesting. End with your rating in the form \"Rating: N/10\".\n\n"
    "Instruction: {prompt}\n\nResponse: {output}\n\n";

class JudgeUtility : public Utility {
 public:
  JudgeUtility(JsonReader& config, const UtilityContext& context) : load_model_(context.load_model) {
    format_ = PromptFormat::read(config);
    generation_ = read_generation_options(config, /*default_max_new_tokens=*/200, {});
    JsonReader judge = config.object("judge");
    const std::string model = judge.get<std::string>("model");
    judge_model_ = hf::resolve_path(model, context.base_dir, judge.where("model"));  // a path or a Hub id
    judge_template_ = judge.get_or<std::string>("prompt_template", kDefaultJudgePrompt);
    template_where_ = judge.where("prompt_template");
    rating_regex_ = judge.get_or<std::string>("rating_regex", R"(Rating:\s*(\d+(?:\.\d+)?)\s*/\s*10)");
    Regex(rating_regex_, judge.where("rating_regex"));
    min_rating_ = judge.get_or<double>("min_rating", 1.0);
    max_rating_ = judge.get_or<double>("max_rating", 10.0);
    if (!(max_rating_ > min_rating_)) judge.fail("max_rating", cat("must exceed min_rating (", min_rating_, ")"));
    judge_format_ = PromptFormat::read(judge);
    judge_generation_ = read_generation_options(judge, /*default_max_new_tokens=*/32, {});
    judge.reject_unknown_keys();
    JsonReader data = config.object("data");
    data_ = load_task_data(data, context.base_dir, {{Role::kPrompt}, {Role::kAnswer}});
    check_template_fields(judge_template_, template_where_, data_, {"prompt", "output"});
  }

  Scores score(model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
               Split split) override {
    const auto& examples = split_examples(data_, split);
    const auto outputs =
        generate_for_split(evaluator, encoder, particles, examples, split, format_, generation_, cache_);
    if (!judge_.evaluator) {
      if (!load_model_) throw Error("judge utility: this command cannot load a second model for the judge");
      judge_ = load_model_(judge_model_);
    }
    // All particles' outputs are rated in one batched pass of the judge (base model, no LoRA).
    std::vector<model::GenerationRequest> judge_requests;
    for (size_t p = 0; p < outputs.size(); ++p) {
      for (size_t i = 0; i < examples.size(); ++i) {
        nlohmann::json fields = examples[i].fields;
        fields["prompt"] = examples[i].prompt;
        fields["output"] = outputs[p].at(i);
        const std::string text = render_template(judge_template_, fields, examples[i].location);
        judge_requests.push_back(generation_request(*judge_.encoder, judge_format_.apply(text, *judge_.encoder),
                                                    judge_format_.add_special_tokens()));
      }
    }
    const auto verdicts = judge_.evaluator->generate(at::Tensor(), judge_requests, judge_generation_);
    MS_CHECK(verdicts.size() == 1 && verdicts[0].size() == judge_requests.size(), "judge returned ",
             verdicts.size(), " rows for 1 model");
    const Regex rating(rating_regex_, "utility.judge.rating_regex");
    std::vector<std::vector<double>> ratings(outputs.size());
    for (size_t p = 0; p < outputs.size(); ++p)
      for (size_t i = 0; i < examples.size(); ++i)
        ratings[p].push_back(parse_rating(rating, verdicts[0][p * examples.size() + i]));
    Scores s;
    s.metrics["rating"] = row_means(ratings);
    s.utility = s.metrics["rating"];
    return s;
  }

  UtilityInfo info() const override {
    return task_data_info("judge", "rating", data_, cat("judge rating by ", hf::display_name(judge_model_)));
  }

 private:
  // Group 1 (or the match) as a number, clamped to the scale; unparseable = the minimum.
  double parse_rating(const Regex& rating, const std::string& verdict) const {
    std::vector<std::string> groups;
    if (!rating.search(verdict, &groups)) return min_rating_;
    const std::string& text = groups.size() > 1 ? groups[1] : groups[0];
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end == text.c_str()) return min_rating_;
    return std::clamp(v, min_rating_, max_rating_);
  }

  std::function<LoadedModel(const std::filesystem::path&)> load_model_;
  PromptFormat format_;
  model::GenerationOptions generation_;
  std::filesystem::path judge_model_;
  std::string judge_template_, template_where_;
  std::string rating_regex_;
  double min_rating_ = 1, max_rating_ = 10;
  PromptFormat judge_format_;
  model::GenerationOptions judge_generation_;
  TaskData data_;
  LoadedModel judge_;
  SplitCache<std::vector<model::GenerationRequest>> cache_;
};

}  // namespace

void register_judge() { register_utility<JudgeUtility>("judge"); }

}  // namespace modelswarm::utility
