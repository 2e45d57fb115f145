// Private to src/lora/merge: what the registry knows of a method, and the helpers the methods
// share. A method file defines `MergeMethod <name>_method()`; registry.cpp lists it on one line.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>

#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/lora/merge.h"

namespace modelswarm::lora::merge_detail {

struct MergeMethod {
  std::string name;                     // as on the command line
  std::string summary;                  // one line
  bool average_by_default = true;       // default weights 1/n (else 1)
  bool allows_negative_weights = true;  // false where a sign election assumes added task vectors
  bool uses_density = false;
  double default_density = 1.0;
  bool uses_majority_sign = false;
  bool uses_seed = false;
  /// The merged row (D) in pool.layout; `options` are resolved (weights filled, density set
  /// where used) and valid.
  std::function<at::Tensor(const ExpertPool& pool, const MergeOptions& options)> run;
};

// ---- helpers (shared.cpp) --------------------------------------------------------------------

/// The weights as a (n) fp32 tensor on `device`.
at::Tensor weight_tensor(const std::vector<double>& weights, const c10::Device& device);

/// Combines the experts' ΔW_i (n, out, in) of one module into one ΔW (out, in).
using DeltaCombiner = std::function<at::Tensor(const at::Tensor& deltas, const ModuleSlot& slot)>;

/// For each module m of the pool: ΔW_i = B_i·A_i (scaling is in B; one matmul per expert, as
/// PEFT's get_delta_weight), ΔW = combine(ΔW_1..n), then the rank-R_m truncated SVD of ΔW as
/// the module's LoRA (A = Vh[:R], B = U[:, :R]·diag(S[:R]), scaling 1; when min(out, in) < R the
/// remaining rows of A and columns of B stay zero). Returns the row (D).
at::Tensor merge_deltas(const ExpertPool& pool, const DeltaCombiner& combine);

/// TIES' sign election and disjoint mean, as PEFT's calculate_majority_sign_mask + disjoint_merge:
/// tasks (n, ...) unweighted, weights (n). Elected sign + where Σ_i tasks ≥ 0 ("total") or
/// Σ_i sign(tasks) ≥ 0 ("frequency"), else −; result Σ_{agree} w_i·tasks_i / max(1, #agree).
at::Tensor elect_sign_and_disjoint_mean(const at::Tensor& tasks, const at::Tensor& weights,
                                        const std::string& majority_sign);

}  // namespace modelswarm::lora::merge_detail
