// multiple_choice: accuracy over a set of choices per example.
// loglikelihood mode (default): each choice is scored as a continuation of the prompt; the
//   prediction is argmax_c ll_c (acc) or argmax_c ll_c / bytes(choice_c) (acc_norm, the
//   length normalisation of lm-eval-harness); ties go to the first choice, as numpy's argmax.
// generate mode: greedy output, parsed for an option letter (the paper's reference code).
#include <ATen/ATen.h>

#include "modelswarm/common/json_reader.h"
#include "modelswarm/common/regex.h"
#include "modelswarm/model/evaluator.h"
#include "utility/builtin.h"
#include "utility/common.h"

namespace modelswarm::utility {

namespace {

class MultipleChoiceUtility : public Utility {
 public:
  MultipleChoiceUtility(JsonReader& config, const UtilityContext& context) {
    metric_ = config.get_or<std::string>("metric", "acc");
    if (metric_ != "acc" && metric_ != "acc_norm")
      config.fail("metric", cat("must be \"acc\" or \"acc_norm\", got \"", metric_, "\""));
    const std::string mode = config.get_or<std::string>("mode", "loglikelihood");
    if (mode != "loglikelihood" && mode != "generate")
      config.fail("mode", cat("must be \"loglikelihood\" or \"generate\", got \"", mode, "\""));
    generate_ = mode == "generate";
    format_ = PromptFormat::read(config);
    if (generate_) {
      if (metric_ == "acc_norm") config.fail("metric", "acc_norm needs mode \"loglikelihood\"");
      generation_ = read_generation_options(config, /*default_max_new_tokens=*/10, {});
      // The first option letter standing on its own: "B", "(B)", "B.", "Answer: B".
      answer_regex_ = config.get_or<std::string>("answer_regex", R"((?<![A-Za-z])([A-Z])(?![A-Za-z]))");
      Regex(answer_regex_, config.where("answer_regex"));
    }
    JsonReader data = config.object("data");
    data_ = load_task_data(data, context.base_dir, {{Role::kPrompt, Role::kChoices, Role::kGold}, {}});
    if (!generate_) {
      for (const char* key : {"max_new_tokens", "stop", "answer_regex", "temperature", "top_p", "seed"})
        if (config.has(key)) config.fail(key, "applies to mode \"generate\" only");
    }
  }

  Scores score(model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
               Split split) override {
    const auto& examples = split_examples(data_, split);
    return generate_ ? score_generated(evaluator, encoder, particles, split, examples)
                     : score_loglikelihood(evaluator, encoder, particles, split, examples);
  }

  UtilityInfo info() const override {
    return task_data_info("multiple_choice", metric_, data_, cat("multiple_choice ", metric_, generate_ ? " (generate)" : ""));
  }

 private:
  struct Prepared {
    std::vector<model::ScoringRequest> requests;  // one per (example, choice)
    std::vector<double> choice_bytes;             // per request, for acc_norm
  };

  Scores score_loglikelihood(model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
                             Split split, const std::vector<Example>& examples) {
    const Prepared& prepared = ll_cache_.get(encoder, split, [&] {
      Prepared p;
      for (const auto& ex : examples) {
        const std::string context = format_.apply(ex.prompt, encoder);
        for (const auto& choice : ex.choices) {
          const std::string continuation = continuation_delimiter(data_.delimiter, context, choice) + choice;
          p.requests.push_back(pair_request(encoder, context, continuation, format_.add_special_tokens(), ex.location));
          p.choice_bytes.push_back(static_cast<double>(std::max<size_t>(choice.size(), 1)));
        }
      }
      return p;
    });
    const int64_t P = particle_count(particles);
    // ll (P, R): R = sum over examples of their number of choices
    at::Tensor ll = evaluator.loglikelihood(particles, prepared.requests).to(at::kCPU, at::kDouble).contiguous();
    TORCH_CHECK(ll.dim() == 2 && ll.size(0) == P && ll.size(1) == static_cast<int64_t>(prepared.requests.size()),
                "evaluator returned log-likelihoods of shape ", ll.sizes(), " for ", P, " particles and ",
                prepared.requests.size(), " requests");
    auto acc = ll.accessor<double, 2>();
    Scores s;
    std::vector<double> acc_p(P, 0.0), acc_norm_p(P, 0.0);
    for (int64_t p = 0; p < P; ++p) {
      int64_t r = 0;
      for (const auto& ex : examples) {
        int64_t best = 0, best_norm = 0;
        for (int64_t c = 0; c < static_cast<int64_t>(ex.choices.size()); ++c) {
          if (acc[p][r + c] > acc[p][r + best]) best = c;
          if (acc[p][r + c] / prepared.choice_bytes[r + c] > acc[p][r + best_norm] / prepared.choice_bytes[r + best_norm])
            best_norm = c;
        }
        acc_p[p] += best == ex.gold;
        acc_norm_p[p] += best_norm == ex.gold;
        r += static_cast<int64_t>(ex.choices.size());
      }
      acc_p[p] /= static_cast<double>(examples.size());
      acc_norm_p[p] /= static_cast<double>(examples.size());
    }
    s.metrics["acc"] = acc_p;
    s.metrics["acc_norm"] = acc_norm_p;
    s.utility = s.metrics[metric_];
    return s;
  }

  Scores score_generated(model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
                         Split split, const std::vector<Example>& examples) {
    const auto& requests = gen_cache_.get(encoder, split, [&] {
      std::vector<model::GenerationRequest> r;
      for (const auto& ex : examples)
        r.push_back(generation_request(encoder, format_.apply(ex.prompt, encoder), format_.add_special_tokens()));
      return r;
    });
    const auto outputs = evaluator.generate(particles, requests, generation_);
    const Regex letter(answer_regex_, "utility.answer_regex");
    std::vector<std::vector<double>> correct(outputs.size());
    for (size_t p = 0; p < outputs.size(); ++p) {
      for (size_t i = 0; i < examples.size(); ++i)
        correct[p].push_back(parsed_choice(letter, outputs[p][i], examples[i]) == examples[i].gold);
    }
    Scores s;
    s.metrics["acc"] = row_means(correct);
    s.utility = s.metrics["acc"];
    return s;
  }

  // The first letter naming one of the example's options, or -1.
  static int64_t parsed_choice(const Regex& letter, const std::string& output, const Example& ex) {
    size_t start = 0;
    while (start <= output.size()) {
      std::vector<std::string> groups;
      const auto span = letter.find(output, start);
      if (span.first == std::string::npos) return -1;
      std::string found = output.substr(span.first, span.second - span.first);
      if (letter.search(found, &groups) && groups.size() > 1) found = groups[1];
      found = trim(found);
      if (found.size() == 1 && found[0] >= 'A' && found[0] < 'A' + static_cast<int>(ex.choices.size()))
        return found[0] - 'A';
      start = span.second > span.first ? span.second : span.first + 1;
    }
    return -1;
  }

  std::string metric_;
  bool generate_ = false;
  PromptFormat format_;
  model::GenerationOptions generation_;
  std::string answer_regex_;
  TaskData data_;
  SplitCache<Prepared> ll_cache_;
  SplitCache<std::vector<model::GenerationRequest>> gen_cache_;
};

}  // namespace

void register_multiple_choice() { register_utility<MultipleChoiceUtility>("multiple_choice"); }

}  // namespace modelswarm::utility
