// The "coefficients" search space (LoraHub-style): a particle is n mixing weights over the
// n experts instead of a full position, and its position is the same weighted sum crossover
// uses: position = coefficients · experts. The swarm runs unchanged on the small problem.
#pragma once

#include <ATen/core/Tensor.h>

#include "modelswarm/swarm/problem.h"

namespace modelswarm::swarm {

class CoefficientProblem : public Problem {
 public:
  /// experts (n, D); `positions` scores full positions of dimension D.
  CoefficientProblem(Problem& positions, at::Tensor experts);

  int64_t dimension() const override { return experts_.size(0); }
  /// coefficients (M, n) -> the utilities of their positions (M, D).
  std::vector<double> evaluate(const at::Tensor& coefficients) override;
  std::string name() const override { return positions_->name() + " (coefficients)"; }

  /// coefficients (M, n) or (n) -> positions (M, D) or (D), on the experts' device.
  at::Tensor to_positions(const at::Tensor& coefficients) const;
  /// The initial particles: the one-hot vector of each expert, (n, n) fp32.
  at::Tensor initial_particles() const;

 private:
  Problem* positions_;
  at::Tensor experts_;  // (n, D) fp32
};

}  // namespace modelswarm::swarm
