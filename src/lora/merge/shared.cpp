// Helpers shared by the merge methods: ΔW per module, TIES' sign election, SVD back to a LoRA.
#include <ATen/ATen.h>

#include <algorithm>

#include "lora/merge/merge_method.h"

namespace modelswarm::lora::merge_detail {

at::Tensor weight_tensor(const std::vector<double>& weights, const c10::Device& device) {
  return at::tensor(weights, at::kDouble).to(device, at::kFloat);  // (n)
}

at::Tensor merge_deltas(const ExpertPool& pool, const DeltaCombiner& combine) {
  const PoolLayout& layout = pool.layout;
  at::Tensor row = at::zeros({layout.dim()}, pool.weights.options());  // (D)
  for (const auto& slot : layout.slots()) {
    const at::Tensor a = layout.a_view(pool.weights, slot);  // (n, R, in)
    const at::Tensor b = layout.b_view(pool.weights, slot);  // (n, out, R)
    std::vector<at::Tensor> deltas;
    for (int64_t i = 0; i < pool.size(); ++i) deltas.push_back(at::mm(b[i], a[i]));  // (out, in)
    const at::Tensor delta = combine(at::stack(deltas), slot);                        // (out, in)
    TORCH_INTERNAL_ASSERT(delta.sizes() == at::IntArrayRef({slot.out_features, slot.in_features}));

    // ΔW = U·diag(S)·Vh; U (out, k), S (k), Vh (k, in), k = min(out, in).
    const auto [u, s, vh] = at::linalg_svd(delta, /*full_matrices=*/false);
    const int64_t r = std::min(slot.rank, s.size(0));
    layout.a_view(row, slot).narrow(0, 0, r).copy_(vh.narrow(0, 0, r));
    layout.b_view(row, slot).narrow(1, 0, r).copy_(u.narrow(1, 0, r) * s.narrow(0, 0, r));
  }
  return row;
}

at::Tensor elect_sign_and_disjoint_mean(const at::Tensor& tasks, const at::Tensor& weights,
                                        const std::string& majority_sign) {
  const at::Tensor sign = tasks.sign();                                                  // (n, ...)
  const at::Tensor magnitude = majority_sign == "frequency" ? sign.sum(0) : tasks.sum(0);  // (...)
  const at::Tensor elected = at::where(magnitude >= 0, 1.0, -1.0).to(tasks.scalar_type());
  const at::Tensor agrees = sign == elected;  // (n, ...) bool; a zero never agrees
  std::vector<int64_t> shape(static_cast<size_t>(tasks.dim()), 1);
  shape[0] = -1;
  const at::Tensor weighted = tasks * weights.view(shape);
  const at::Tensor kept = agrees.sum(0).clamp_min(1).to(tasks.scalar_type());
  return (weighted * agrees).sum(0) / kept;
}

}  // namespace modelswarm::lora::merge_detail
