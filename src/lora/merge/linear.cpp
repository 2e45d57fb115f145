// `linear`: Model Swarms' weighted sum, A = Σ w_i A_i and B = Σ w_i B_i (scaling folded into B).
#include <ATen/ATen.h>

#include "lora/merge/merge_method.h"

namespace modelswarm::lora::merge_detail {

MergeMethod linear_method() {
  MergeMethod m;
  m.name = "linear";
  m.summary = "weighted sum of the A and of the B matrices (Model Swarms); default weights 1/n: the uniform average";
  m.run = [](const ExpertPool& pool, const MergeOptions& o) {
    const at::Tensor w = weight_tensor(o.weights, pool.weights.device());  // (n)
    return at::matmul(w, pool.weights);                                    // (n) @ (n, D) -> (D)
  };
  return m;
}

}  // namespace modelswarm::lora::merge_detail
