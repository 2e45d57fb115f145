// `dare_ties`: DARE (random drop, rescale) on the ΔW_i, then TIES' sign election and disjoint
// mean, then truncated SVD (PEFT's `dare_ties_svd`, with a seeded generator of our own).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "lora/merge/merge_method.h"

namespace modelswarm::lora::merge_detail {

MergeMethod dare_ties_method() {
  MergeMethod m;
  m.name = "dare_ties";
  m.summary = "DARE (keep each ΔW entry with probability density, rescale by 1/density) then TIES, truncated SVD "
              "(PEFT's dare_ties_svd)";
  m.average_by_default = false;
  m.allows_negative_weights = false;
  m.uses_density = true;
  m.default_density = 0.5;
  m.uses_majority_sign = true;
  m.uses_seed = true;
  m.run = [](const ExpertPool& pool, const MergeOptions& o) {
    const at::Tensor w = weight_tensor(o.weights, pool.weights.device());
    const double density = *o.density;
    // One generator for the whole merge: masks are drawn module by module (layout order), expert
    // by expert, on the CPU, so a seed gives the same adapter on any device.
    auto generator = at::make_generator<at::CPUGeneratorImpl>(o.seed);
    return merge_deltas(pool, [&](const at::Tensor& deltas, const ModuleSlot&) {
      if (density >= 1) return elect_sign_and_disjoint_mean(deltas, w, o.majority_sign);  // nothing dropped
      std::vector<at::Tensor> kept;
      for (int64_t i = 0; i < deltas.size(0); ++i) {
        const at::Tensor mask = at::empty(deltas[i].sizes(), at::kFloat).bernoulli_(density, generator);
        kept.push_back(deltas[i] * mask.to(deltas.device()) / density);  // as PEFT's random_pruning(rescale=True)
      }
      return elect_sign_and_disjoint_mean(at::stack(kept), w, o.majority_sign);
    });
  };
  return m;
}

}  // namespace modelswarm::lora::merge_detail
