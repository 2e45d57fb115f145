// likelihood: how probable the model finds reference texts (continuations of a prompt, or plain
// texts scored from BOS). Corpus-level over the split:
//   loglik_per_token = Σ log p(continuation tokens) / Σ continuation tokens
//   neg_perplexity   = -exp(-loglik_per_token)
#include <ATen/ATen.h>

#include <cmath>

#include "modelswarm/common/json_reader.h"
#include "modelswarm/model/evaluator.h"
#include "utility/builtin.h"
#include "utility/common.h"

namespace modelswarm::utility {

namespace {

class LikelihoodUtility : public Utility {
 public:
  LikelihoodUtility(JsonReader& config, const UtilityContext& context) {
    metric_ = config.get_or<std::string>("metric", "loglik_per_token");
    if (metric_ != "loglik_per_token" && metric_ != "neg_perplexity")
      config.fail("metric", cat("must be \"loglik_per_token\" or \"neg_perplexity\", got \"", metric_, "\""));
    format_ = PromptFormat::read(config);
    JsonReader data = config.object("data");
    data_ = load_task_data(data, context.base_dir, {{Role::kContinuation}, {Role::kPrompt}});
  }

  Scores score(model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
               Split split) override {
    const auto& examples = split_examples(data_, split);
    const Prepared& prepared = cache_.get(encoder, split, [&] {
      Prepared p;
      for (const auto& ex : examples) {
        const std::string context = ex.prompt.empty() ? "" : format_.apply(ex.prompt, encoder);
        const std::string continuation = continuation_delimiter(data_.delimiter, context, ex.continuation) + ex.continuation;
        p.requests.push_back(pair_request(encoder, context, continuation, format_.add_special_tokens(), ex.location));
        p.tokens += static_cast<double>(p.requests.back().continuation.size());
      }
      return p;
    });
    const int64_t P = particle_count(particles);
    // ll (P, R)
    at::Tensor ll = evaluator.loglikelihood(particles, prepared.requests).to(at::kCPU, at::kDouble);
    TORCH_CHECK(ll.dim() == 2 && ll.size(0) == P && ll.size(1) == static_cast<int64_t>(prepared.requests.size()),
                "evaluator returned log-likelihoods of shape ", ll.sizes(), " for ", P, " particles and ",
                prepared.requests.size(), " requests");
    at::Tensor per_token = ll.sum(/*dim=*/1) / prepared.tokens;  // (P)
    Scores s;
    auto& lpt = s.metrics["loglik_per_token"];
    auto& nppl = s.metrics["neg_perplexity"];
    for (int64_t p = 0; p < P; ++p) {
      lpt.push_back(per_token[p].item<double>());
      nppl.push_back(-std::exp(-lpt.back()));
    }
    s.utility = s.metrics[metric_];
    return s;
  }

  UtilityInfo info() const override {
    return task_data_info("likelihood", metric_, data_, cat("likelihood ", metric_));
  }

 private:
  struct Prepared {
    std::vector<model::ScoringRequest> requests;
    double tokens = 0;  // continuation tokens in all requests
  };
  std::string metric_;
  PromptFormat format_;
  TaskData data_;
  SplitCache<Prepared> cache_;
};

}  // namespace

void register_likelihood() { register_utility<LikelihoodUtility>("likelihood"); }

}  // namespace modelswarm::utility
