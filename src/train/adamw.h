// AdamW (Loshchilov & Hutter): Adam moments with bias correction and decoupled weight decay,
// the update torch.optim.AdamW makes, on plain ATen tensors.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace modelswarm::train {

class AdamW {
 public:
  AdamW(std::vector<at::Tensor> params, double weight_decay, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8);
  /// One update of every parameter from its .grad() at learning rate `lr`; clears the grads.
  void step(double lr);

 private:
  std::vector<at::Tensor> params_, m_, v_;
  double weight_decay_, beta1_, beta2_, eps_;
  int64_t t_ = 0;
};

}  // namespace modelswarm::train
