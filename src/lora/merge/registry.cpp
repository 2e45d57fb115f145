// The merge registry: every method, by name, and the checks and defaults common to all of them.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>

#include "lora/merge/merge_method.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/strings.h"

namespace modelswarm::lora {
namespace merge_detail {

// One line per method: X(name) stands for `MergeMethod name_method()` in src/lora/merge/name.cpp.
#define MODELSWARM_MERGE_METHODS(X) \
  X(linear)                         \
  X(task_arithmetic)                \
  X(ties)                           \
  X(dare_ties)

#define MODELSWARM_DECLARE_MERGE(name) MergeMethod name##_method();
MODELSWARM_MERGE_METHODS(MODELSWARM_DECLARE_MERGE)
#undef MODELSWARM_DECLARE_MERGE

namespace {

// Sorted by name.
const std::vector<MergeMethod>& registry() {
  static const std::vector<MergeMethod> methods = [] {
#define MODELSWARM_LIST_MERGE(name) name##_method(),
    std::vector<MergeMethod> all = {MODELSWARM_MERGE_METHODS(MODELSWARM_LIST_MERGE)};
#undef MODELSWARM_LIST_MERGE
    std::sort(all.begin(), all.end(), [](const MergeMethod& a, const MergeMethod& b) { return a.name < b.name; });
    return all;
  }();
  return methods;
}

const MergeMethod& find(const std::string& name) {
  for (const auto& m : registry())
    if (m.name == name) return m;
  throw ConfigError(cat("merge method: unknown \"", name, "\" (known: ", join(merge_methods(), ", "), ")"));
}

}  // namespace
}  // namespace merge_detail

std::vector<std::string> merge_methods() {
  std::vector<std::string> names;
  for (const auto& m : merge_detail::registry()) names.push_back(m.name);
  return names;
}

std::string merge_method_summary(const std::string& method) { return merge_detail::find(method).summary; }

MergeOptions resolve_merge_options(const std::string& method, int64_t n_experts, const MergeOptions& options) {
  const auto& m = merge_detail::find(method);
  if (n_experts < 1) throw ConfigError(cat("merge ", method, ": no experts to merge"));
  MergeOptions r = options;
  if (r.weights.empty()) {
    r.weights.assign(static_cast<size_t>(n_experts), m.average_by_default ? 1.0 / static_cast<double>(n_experts) : 1.0);
  } else if (static_cast<int64_t>(r.weights.size()) != n_experts) {
    throw ConfigError(cat("merge ", method, ": weights: ", r.weights.size(), " given for ", n_experts,
                          " experts (one per expert, in order)"));
  }
  for (size_t i = 0; i < r.weights.size(); ++i) {
    const double w = r.weights[i];
    if (!std::isfinite(w)) throw ConfigError(cat("merge ", method, ": weights: weight ", i + 1, " is not finite"));
    if (w < 0 && !m.allows_negative_weights)
      throw ConfigError(cat("merge ", method, ": weights: weight ", i + 1, " is ", w,
                            "; this method elects signs over added task vectors and takes no negative weights"));
  }
  if (r.density && !(*r.density > 0 && *r.density <= 1))
    throw ConfigError(cat("merge ", method, ": density must be in (0, 1], got ", *r.density));
  if (m.uses_density) r.density = r.density.value_or(m.default_density);
  else r.density.reset();
  if (r.majority_sign != "total" && r.majority_sign != "frequency")
    throw ConfigError(cat("merge ", method, ": majority_sign must be \"total\" or \"frequency\", got \"",
                          r.majority_sign, "\""));
  return r;
}

at::Tensor merge(const std::string& method, const ExpertPool& pool, const MergeOptions& options) {
  const auto& m = merge_detail::find(method);
  const MergeOptions resolved = resolve_merge_options(method, pool.size(), options);
  at::NoGradGuard no_grad;
  at::Tensor row = m.run(pool, resolved);
  TORCH_INTERNAL_ASSERT(row.dim() == 1 && row.size(0) == pool.layout.dim(), "merge ", method, " returned ", row.sizes());
  return row;
}

nlohmann::json merge_provenance(const std::string& method, const ExpertPool& pool, const MergeOptions& options) {
  const auto& m = merge_detail::find(method);
  const MergeOptions r = resolve_merge_options(method, pool.size(), options);
  nlohmann::json out = {{"method", method}, {"experts", pool.names}, {"weights", r.weights}};
  if (m.uses_density) out["density"] = *r.density;
  if (m.uses_majority_sign) out["majority_sign"] = r.majority_sign;
  if (m.uses_seed) out["seed"] = r.seed;
  return out;
}

}  // namespace modelswarm::lora
