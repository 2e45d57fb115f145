#include "modelswarm/swarm/coefficients.h"

#include <ATen/ATen.h>

#include "modelswarm/common/error.h"

namespace modelswarm::swarm {

CoefficientProblem::CoefficientProblem(Problem& positions, at::Tensor experts)
    : positions_(&positions), experts_(experts.to(at::kFloat).contiguous()) {
  MS_CHECK(experts_.dim() == 2 && experts_.size(0) >= 2, "coefficient space: expected experts (n, D) with n >= 2, got ",
           experts_.sizes());
  MS_CHECK(experts_.size(1) == positions.dimension(), "coefficient space: experts have dimension ", experts_.size(1),
           " but ", positions.name(), " expects ", positions.dimension());
}

at::Tensor CoefficientProblem::to_positions(const at::Tensor& coefficients) const {
  // (M, n) @ (n, D) -> (M, D)
  return coefficients.to(experts_.device(), at::kFloat).matmul(experts_);
}

std::vector<double> CoefficientProblem::evaluate(const at::Tensor& coefficients) {
  return positions_->evaluate(to_positions(coefficients));
}

at::Tensor CoefficientProblem::initial_particles() const {
  return at::eye(experts_.size(0), experts_.options());
}

}  // namespace modelswarm::swarm
