// composite: one utility from several (the paper's multi-task domains use the harmonic mean of
// two accuracies). With weights w_i and component utilities u_i:
//   weighted_mean  Σ w_i·u_i / Σ w_i
//   harmonic_mean  Σ w_i / Σ (w_i / u_i), 0 when any u_i ≤ 0
//   min            min_i u_i
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <limits>

#include "modelswarm/common/json_reader.h"
#include "utility/builtin.h"
#include "utility/common.h"

namespace modelswarm::utility {

namespace {

class CompositeUtility : public Utility {
 public:
  CompositeUtility(JsonReader& config, const UtilityContext& context) {
    combine_ = config.get_or<std::string>("combine", "weighted_mean");
    if (combine_ != "weighted_mean" && combine_ != "harmonic_mean" && combine_ != "min")
      config.fail("combine", cat("must be weighted_mean, harmonic_mean or min, got \"", combine_, "\""));
    for (auto& component : config.objects("components")) components_.push_back(make_utility(component, context));
    if (components_.empty()) config.fail("components", "needs at least one utility");
    if (config.has("weights")) {
      if (combine_ == "min") config.fail("weights", "do not apply to combine \"min\"");
      weights_ = config.get<std::vector<double>>("weights");
      if (weights_.size() != components_.size())
        config.fail("weights", cat("has ", weights_.size(), " numbers for ", components_.size(), " components"));
      double total = 0;
      for (double w : weights_) {
        if (!(w >= 0)) config.fail("weights", cat("must not be negative, got ", w));
        total += w;
      }
      if (!(total > 0)) config.fail("weights", "must not all be zero");
    } else {
      weights_.assign(components_.size(), 1.0);
    }
  }

  Scores score(model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
               Split split) override {
    const int64_t P = particle_count(particles);
    Scores s;
    std::vector<std::vector<double>> parts;  // [component][P]
    for (size_t i = 0; i < components_.size(); ++i) {
      Scores part = components_[i]->score(evaluator, encoder, particles, split);
      const std::string prefix = cat(i, ".", components_[i]->info().type, ".");
      for (auto& [name, values] : part.metrics) s.metrics[prefix + name] = values;
      parts.push_back(std::move(part.utility));
    }
    s.utility.resize(P);
    for (int64_t p = 0; p < P; ++p) {
      double total_w = 0, acc = 0, low = std::numeric_limits<double>::infinity();
      bool non_positive = false;
      for (size_t i = 0; i < parts.size(); ++i) {
        const double u = parts[i].at(p), w = weights_[i];
        total_w += w;
        low = std::min(low, u);
        if (combine_ == "weighted_mean") acc += w * u;
        else if (w > 0 && u <= 0) non_positive = true;
        else if (w > 0) acc += w / u;
      }
      if (combine_ == "weighted_mean") s.utility[p] = acc / total_w;
      else if (combine_ == "harmonic_mean") s.utility[p] = non_positive ? 0.0 : total_w / acc;
      else s.utility[p] = low;
    }
    s.metrics[combine_] = s.utility;
    return s;
  }

  UtilityInfo info() const override {
    UtilityInfo i;
    i.type = "composite";
    i.metric = combine_;
    std::string parts;
    for (const auto& c : components_) {
      const UtilityInfo ci = c->info();
      i.dev_examples += ci.dev_examples;
      i.validation_examples += ci.validation_examples;
      i.test_examples += ci.test_examples;
      parts += (parts.empty() ? "" : ", ") + ci.description;
    }
    i.description = cat(combine_, " of [", parts, "]");
    return i;
  }

 private:
  std::string combine_;
  std::vector<std::unique_ptr<Utility>> components_;
  std::vector<double> weights_;
};

}  // namespace

void register_composite() { register_utility<CompositeUtility>("composite"); }

}  // namespace modelswarm::utility
