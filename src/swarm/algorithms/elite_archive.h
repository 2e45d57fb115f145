// Private to src/swarm/algorithms: the best rows an algorithm has evaluated, for algorithms
// whose rows do not persist (CMA-ES and random search draw new ones each iteration). Kept in
// the state as the tensor "elite" (E, D) and data["elite"] = [{"utility", "iteration", "row"}],
// best first, so checkpoints carry it like any other part of the state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "modelswarm/swarm/algorithm.h"

namespace modelswarm::swarm::detail {

/// Merges the finite-utility rows of `evaluated` (this iteration's, record.iteration) into the
/// archive, keeping the best `capacity`; ties keep the older entry first.
void update_elite_archive(State& state, const std::vector<int64_t>& evaluated, int64_t iteration, int64_t capacity);
/// Up to k archive entries, best first.
std::vector<Elite> archive_elite(const State& state, int64_t k);
/// Throws Error naming `where` when the archive's tensor and list disagree.
void check_elite_archive(const State& state, const std::string& where);

}  // namespace modelswarm::swarm::detail
