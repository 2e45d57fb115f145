// `ties`: TIES-merging of the ΔW_i (trim, elect sign, disjoint mean), then truncated SVD
// (PEFT's `ties_svd`).
#include <ATen/ATen.h>

#include "lora/merge/merge_method.h"

namespace modelswarm::lora::merge_detail {

namespace {

// Keeps the k = ⌊density·numel⌋ entries of largest magnitude (PEFT's magnitude_based_pruning);
// density 1 keeps everything.
at::Tensor trim(const at::Tensor& task, double density) {
  if (density >= 1) return task;
  const auto k = static_cast<int64_t>(density * static_cast<double>(task.numel()));
  at::Tensor mask = at::zeros({task.numel()}, task.options());
  mask.index_fill_(0, std::get<1>(task.abs().reshape(-1).topk(k)), 1);
  return task * mask.view(task.sizes());
}

}  // namespace

MergeMethod ties_method() {
  MergeMethod m;
  m.name = "ties";
  m.summary = "TIES on the ΔW (trim to density, elect sign, disjoint mean), truncated SVD (PEFT's ties_svd)";
  m.average_by_default = false;
  m.allows_negative_weights = false;
  m.uses_density = true;
  m.default_density = 0.5;
  m.uses_majority_sign = true;
  m.run = [](const ExpertPool& pool, const MergeOptions& o) {
    const at::Tensor w = weight_tensor(o.weights, pool.weights.device());
    const double density = *o.density;
    return merge_deltas(pool, [&](const at::Tensor& deltas, const ModuleSlot&) {
      std::vector<at::Tensor> trimmed;
      for (int64_t i = 0; i < deltas.size(0); ++i) trimmed.push_back(trim(deltas[i], density));
      return elect_sign_and_disjoint_mean(at::stack(trimmed), w, o.majority_sign);
    });
  };
  return m;
}

}  // namespace modelswarm::lora::merge_detail
