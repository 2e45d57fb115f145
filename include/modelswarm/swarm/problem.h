// What the swarm optimises, as a plug-in (pagmo2 style): the optimiser knows positions and
// utilities, nothing of LLMs. Utilities are maximised.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "modelswarm/common/error.h"

namespace modelswarm::swarm {

/// Thrown by a problem that can score nothing now (a rank of a distributed run died, a device
/// was lost), as opposed to one particle failing: evaluate_checked rethrows it at once instead
/// of retrying the particles one by one.
class ProblemUnavailable : public Error {
 public:
  using Error::Error;
};

/// A utility function over positions. M = particles in one call, D = dimension().
class Problem {
 public:
  virtual ~Problem() = default;

  /// D: the length of one position.
  virtual int64_t dimension() const = 0;

  /// positions (M, D) fp32 -> M utilities, higher is better. May throw; NaN is allowed and
  /// means "failed" (see evaluate_checked).
  virtual std::vector<double> evaluate(const at::Tensor& positions) = 0;

  /// Short name for log lines.
  virtual std::string name() const { return "problem"; }
};

/// Calls problem.evaluate on positions (M, D) and returns M utilities in which every
/// non-finite value, or the utility of a particle whose evaluation throws, is -inf, with a
/// warning naming the particle (particle_ids[m] is the swarm index of row m). When the batch
/// call throws, each particle is retried alone to find the culprit; if every particle throws,
/// the first error is rethrown (the fault is not the particles'). Checks the result's length.
std::vector<double> evaluate_checked(Problem& problem, const at::Tensor& positions,
                                     const std::vector<int64_t>& particle_ids);

}  // namespace modelswarm::swarm
