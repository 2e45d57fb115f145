// `task_arithmetic`: ΔW = Σ w_i ΔW_i per module, back to a LoRA by truncated SVD (PEFT's `svd`).
#include <ATen/ATen.h>

#include "lora/merge/merge_method.h"

namespace modelswarm::lora::merge_detail {

MergeMethod task_arithmetic_method() {
  MergeMethod m;
  m.name = "task_arithmetic";
  m.summary = "weighted sum of the ΔW = B·A, truncated SVD to the module's rank (PEFT's svd); default weights 1/n";
  m.run = [](const ExpertPool& pool, const MergeOptions& o) {
    const at::Tensor w = weight_tensor(o.weights, pool.weights.device()).view({-1, 1, 1});  // (n, 1, 1)
    return merge_deltas(pool, [&](const at::Tensor& deltas, const ModuleSlot&) { return (deltas * w).sum(0); });
  };
  return m;
}

}  // namespace modelswarm::lora::merge_detail
