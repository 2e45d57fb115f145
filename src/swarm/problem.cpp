#include "modelswarm/swarm/problem.h"

#include <cmath>
#include <exception>
#include <limits>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"

namespace modelswarm::swarm {

namespace {
constexpr double kWorst = -std::numeric_limits<double>::infinity();

void check_count(const Problem& problem, const std::vector<double>& utilities, int64_t expected) {
  MS_CHECK(static_cast<int64_t>(utilities.size()) == expected, problem.name(), " returned ",
           utilities.size(), " utilities for ", expected, " particles");
}
}  // namespace

std::vector<double> evaluate_checked(Problem& problem, const at::Tensor& positions,
                                     const std::vector<int64_t>& particle_ids) {
  // positions (M, D)
  TORCH_CHECK(positions.dim() == 2 && positions.size(1) == problem.dimension(), problem.name(),
              ": expected positions of shape (M, ", problem.dimension(), "), got ", positions.sizes());
  const int64_t m = positions.size(0);
  TORCH_CHECK(static_cast<int64_t>(particle_ids.size()) == m, "evaluate_checked: ", particle_ids.size(),
              " particle ids for ", m, " positions");
  std::vector<double> utilities;
  try {
    utilities = problem.evaluate(positions);
  } catch (const ProblemUnavailable&) {
    throw;
  } catch (const std::exception& e) {
    if (m == 1) {
      log::warn(cat("particle ", particle_ids[0], ": evaluation failed, its utility is set to -inf (",
                    e.what(), ")"));
      return {kWorst};
    }
    log::warn(cat(problem.name(), ": evaluating ", m, " particles together failed (", e.what(),
                  "); evaluating them one at a time"));
    utilities.assign(m, kWorst);
    std::exception_ptr first_error;
    int64_t failures = 0;
    for (int64_t row = 0; row < m; ++row) {
      try {
        auto one = problem.evaluate(positions.narrow(0, row, 1));
        check_count(problem, one, 1);
        utilities[row] = one[0];
      } catch (const ProblemUnavailable&) {
        throw;
      } catch (const std::exception& e) {
        if (!first_error) first_error = std::current_exception();
        ++failures;
        log::warn(cat("particle ", particle_ids[row], ": evaluation failed, its utility is set to -inf (",
                      e.what(), ")"));
      }
    }
    // Every particle of a batch failing alone too is a fault of the problem, not of the particles.
    if (failures == m) std::rethrow_exception(first_error);
  }
  check_count(problem, utilities, m);
  for (int64_t row = 0; row < m; ++row) {
    if (std::isfinite(utilities[row]) || utilities[row] == kWorst) continue;
    log::warn(cat("particle ", particle_ids[row], ": utility is ", utilities[row],
                  "; it counts as -inf (the worst possible)"));
    utilities[row] = kWorst;
  }
  return utilities;
}

}  // namespace modelswarm::swarm
