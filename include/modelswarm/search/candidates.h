// What a search can return: the swarm's best positions and the baselines it scored beside them
// (each expert, their uniform average, the merge baselines of lora/merge.h). The returned adapter
// is chosen among all of them, so a search never returns something a baseline it evaluated
// beats on the selection split:
//   - without a validation split: the swarm's global best, unless a baseline scored higher on
//     dev (the split the search maximised);
//   - with one: whichever of the swarm's top-k personal bests and the baselines scores highest on
//     validation, which the search never saw (dev scores of the swarm's particles are biased
//     upwards by the search itself).
// Ties go to the earlier candidate: the swarm's, in rank order, before the baselines.
#pragma once

#include <ATen/core/Tensor.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace modelswarm::search {

enum class CandidateKind { kSwarm, kExpert, kUniformAverage, kMerge };
std::string to_string(CandidateKind kind);

struct Candidate {
  CandidateKind kind = CandidateKind::kSwarm;
  std::string name;     // "rank 1 (particle 4)", "capital-2000", "uniform average", "ties"
  at::Tensor position;  // (D) fp32, a full position of the pool layout
  double dev = std::nan("");
  double validation = std::nan("");
  double test = std::nan("");

  /// {"kind", "name", "dev", "validation", "test"}; NaN (not scored) as null.
  nlohmann::json to_json() const;
};

enum class SelectionSplit { kDev, kValidation };

/// Index into `candidates` of the one to return: the highest utility on `split` (NaN and -inf
/// never win); ties go to the lower index. Without a validation split, pass only the swarm's
/// global best and the baselines.
size_t select_returned(const std::vector<Candidate>& candidates, SelectionSplit split);

/// A warning line when the swarm's gain over the best expert on dev does not carry over to a
/// held-out split (validation, test): the held-out gain is less than half the dev gain. Empty
/// when there is no dev gain, no held-out split, or the gain holds.
std::vector<std::string> overfitting_warnings(const Candidate& swarm_best, const std::vector<Candidate>& experts);

}  // namespace modelswarm::search
