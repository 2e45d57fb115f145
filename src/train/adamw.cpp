#include "train/adamw.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>

namespace modelswarm::train {

AdamW::AdamW(std::vector<at::Tensor> params, double weight_decay, double beta1, double beta2, double eps)
    : params_(std::move(params)), weight_decay_(weight_decay), beta1_(beta1), beta2_(beta2), eps_(eps) {
  for (const auto& p : params_) {
    m_.push_back(at::zeros_like(p));
    v_.push_back(at::zeros_like(p));
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++t_;
  const double correction1 = 1 - std::pow(beta1_, static_cast<double>(t_));
  const double correction2 = 1 - std::pow(beta2_, static_cast<double>(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    at::Tensor g = p.grad();
    if (!g.defined()) continue;
    if (weight_decay_ != 0) p.mul_(1 - lr * weight_decay_);
    m_[i].mul_(beta1_).add_(g, 1 - beta1_);
    v_[i].mul_(beta2_).addcmul_(g, g, 1 - beta2_);
    const at::Tensor denom = (v_[i] / correction2).sqrt_().add_(eps_);
    p.addcdiv_(m_[i], denom, -lr / correction1);
    g.zero_();
  }
}

}  // namespace modelswarm::train
