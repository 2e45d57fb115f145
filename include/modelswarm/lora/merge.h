// Merge baselines: one adapter made from the expert pool without any search, to compare the
// swarm's result with (`modelswarm merge`, report rows). A mergekit-style registry: a method is
// one file in src/lora/merge/ plus one line in src/lora/merge/registry.cpp.
//
// Notation: n experts, expert i with weight w_i; per module m, A_i (R_m, in), B_i (out, R_m) as in
// the pool (scaling s_i folded into B, rank zero-padded to R_m = the largest rank of m over the
// experts), so ΔW_i = B_i·A_i (out, in) is exactly PEFT's get_delta_weight (s_i·B_i·A_i).
//
//   linear           A = Σ w_i A_i, B = Σ w_i B_i (Model Swarms' weighted sum, the space the swarm
//                    searches). Default w_i = 1/n: the experts' uniform average, pool.weights.mean(0).
//                    PEFT's `linear` is a different definition (A and B each scaled by
//                    √(w_i·s_i)) and is not offered.
//   task_arithmetic  ΔW = Σ w_i ΔW_i, re-factored by truncated SVD (below). Default w_i = 1/n.
//                    PEFT: add_weighted_adapter(combination_type="svd").
//   ties             TIES-merging of the ΔW_i: trim each ΔW_i to its k = ⌊density·out·in⌋ entries of
//                    largest magnitude; elect a sign per entry, + where Σ_i ΔW_i ≥ 0 (`total`, the
//                    sum of the trimmed, unweighted ΔW_i) or where Σ_i sign(ΔW_i) ≥ 0 (`frequency`),
//                    else −; disjoint mean: ΔW = Σ_{i agrees} w_i ΔW_i / max(1, #{i agrees}), where
//                    "agrees" means sign(ΔW_i) equals the elected sign (a zero never agrees); then
//                    the SVD. Defaults: w_i = 1 (the disjoint mean already averages), density 0.5.
//                    PEFT: combination_type="ties_svd".
//   dare_ties        DARE then TIES: each entry of each ΔW_i is kept with probability `density`
//                    (a Bernoulli mask from an at::Generator seeded with `seed`, drawn module by
//                    module in layout order, expert by expert) and survivors are divided by
//                    density; then sign election and disjoint mean as in ties (no trimming), then
//                    the SVD. Defaults: w_i = 1, density 0.5, seed 0. PEFT:
//                    combination_type="dare_ties_svd", identical at density 1 (PEFT's drop mask
//                    comes from torch's global generator, so lower densities match only in law).
//
// Truncated SVD (as PEFT's _svd_generalized_task_arithmetic_weighted_adapter, no clamp):
// ΔW = U·diag(S)·Vh, A = Vh[:R_m] (R_m, in), B = U[:, :R_m]·diag(S[:R_m]) (out, R_m), scaling 1
// (PEFT writes lora_alpha = r). The rank is the module's padded rank R_m; PEFT uses one rank for
// every module, the largest r (or rank_pattern value) of the experts, so the two agree whenever
// the experts have one rank throughout. Modules an expert lacks count as ΔW_i = 0, as in PEFT
// (they are never in the top-k, never agree with a sign and add nothing to a sum). With a single
// expert PEFT's add_weighted_adapter silently switches to its `linear`; ours keeps the method.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "modelswarm/lora/expert_pool.h"

namespace modelswarm::lora {

struct MergeOptions {
  /// One finite weight per expert (pool order); empty: the method's default (above). ties and
  /// dare_ties refuse negative weights (the sign election assumes added task vectors).
  std::vector<double> weights;
  /// ties, dare_ties: the fraction of each ΔW_i kept, in (0, 1]; empty: the method's default.
  /// The options below, like this one, are checked always and ignored by methods without them,
  /// so one MergeOptions serves every method of a report.
  std::optional<double> density;
  /// ties, dare_ties: "total" or "frequency" (above).
  std::string majority_sign = "total";
  /// dare_ties: seed of the drop masks (the same seed gives the same adapter).
  uint64_t seed = 0;
};

/// The methods' names, sorted.
std::vector<std::string> merge_methods();

/// One line describing `method`, for --help and reports. Throws ConfigError for an unknown name.
std::string merge_method_summary(const std::string& method);

/// `options` checked against `method` and `n_experts`, with every default filled in (weights,
/// density where the method uses one). Throws ConfigError with a one-line message naming the
/// option: unknown method (listing the known ones), wrong number of weights, non-finite or
/// (ties, dare_ties) negative weights, density outside (0, 1], majority_sign other than
/// total/frequency. density comes back empty for a method without one; majority_sign and seed
/// come back as given.
MergeOptions resolve_merge_options(const std::string& method, int64_t n_experts, const MergeOptions& options);

/// The merged adapter as one row (D) fp32 in pool.layout (on pool.weights' device); write it with
/// write_adapter(dir, pool.layout.unflatten(row), ...). Options are resolved as above.
at::Tensor merge(const std::string& method, const ExpertPool& pool, const MergeOptions& options = {});

/// What a merge used, for provenance: {"method", "experts", "weights", and "density",
/// "majority_sign", "seed" where the method uses them}, defaults resolved.
nlohmann::json merge_provenance(const std::string& method, const ExpertPool& pool, const MergeOptions& options);

}  // namespace modelswarm::lora
