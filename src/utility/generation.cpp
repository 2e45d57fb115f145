// generation: greedy output per example, scored against the reference answer by
//   exact_match  trimmed output == trimmed answer
//   contains     the trimmed answer occurs in the output
//   regex        capture group 1 (or the whole match) of extract_regex in the output == answer
//   numeric      the last number in the output equals the last number in the answer (GSM8K style)
#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include "modelswarm/common/json_reader.h"
#include "modelswarm/common/regex.h"
#include "modelswarm/model/evaluator.h"
#include "utility/builtin.h"
#include "utility/common.h"

namespace modelswarm::utility {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class GenerationUtility : public Utility {
 public:
  GenerationUtility(JsonReader& config, const UtilityContext& context) {
    scoring_ = config.get_or<std::string>("scoring", "exact_match");
    if (scoring_ != "exact_match" && scoring_ != "contains" && scoring_ != "regex" && scoring_ != "numeric")
      config.fail("scoring", cat("must be exact_match, contains, regex or numeric, got \"", scoring_, "\""));
    if (scoring_ == "regex") {
      extract_.emplace(config.get<std::string>("extract_regex"), config.where("extract_regex"));
    } else if (config.has("extract_regex")) {
      config.fail("extract_regex", "applies to scoring \"regex\" only");
    }
    ignore_case_ = config.get_or<bool>("ignore_case", false);
    format_ = PromptFormat::read(config);
    generation_ = read_generation_options(config, /*default_max_new_tokens=*/64, {"\n\n"});
    JsonReader data = config.object("data");
    data_ = load_task_data(data, context.base_dir, {{Role::kPrompt, Role::kAnswer}, {}});
    if (scoring_ == "numeric") {
      for (const auto* split : {&data_.dev, &data_.validation, &data_.test})
        for (const auto& ex : *split)
          if (!last_number(ex.answer)) throw Error(cat(ex.location, ": the answer \"", ex.answer, "\" has no number"));
    }
  }

  Scores score(model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
               Split split) override {
    const auto& examples = split_examples(data_, split);
    const auto outputs =
        generate_for_split(evaluator, encoder, particles, examples, split, format_, generation_, cache_);
    std::vector<std::vector<double>> correct(outputs.size());
    for (size_t p = 0; p < outputs.size(); ++p)
      for (size_t i = 0; i < examples.size(); ++i) correct[p].push_back(matches(outputs[p].at(i), examples[i].answer));
    Scores s;
    s.metrics[scoring_] = row_means(correct);
    s.utility = s.metrics[scoring_];
    return s;
  }

  UtilityInfo info() const override {
    return task_data_info("generation", scoring_, data_, cat("generation ", scoring_));
  }

  /// 1 when `output` matches `answer` under the configured scoring.
  double matches(const std::string& output, const std::string& answer) const {
    if (scoring_ == "numeric") {
      const auto got = last_number(output), want = last_number(answer);
      if (!got || !want) return 0.0;
      return std::fabs(*got - *want) <= 1e-6 * std::max(1.0, std::fabs(*want)) ? 1.0 : 0.0;
    }
    std::string got = output;
    if (scoring_ == "regex") {
      std::vector<std::string> groups;
      if (!extract_->search(output, &groups)) return 0.0;
      got = groups.size() > 1 ? groups[1] : groups[0];
    }
    std::string want = trim(answer);
    got = scoring_ == "contains" ? got : trim(got);
    if (ignore_case_) {
      got = lower(got);
      want = lower(want);
    }
    if (scoring_ == "contains") return got.find(want) != std::string::npos ? 1.0 : 0.0;
    return got == want ? 1.0 : 0.0;
  }

 private:
  std::string scoring_;
  std::optional<Regex> extract_;
  bool ignore_case_ = false;
  PromptFormat format_;
  model::GenerationOptions generation_;
  TaskData data_;
  SplitCache<std::vector<model::GenerationRequest>> cache_;
};

}  // namespace

void register_generation() { register_utility<GenerationUtility>("generation"); }

}  // namespace modelswarm::utility
