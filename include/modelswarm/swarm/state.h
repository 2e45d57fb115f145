// Everything a swarm search is at one moment: enough to continue it exactly (checkpoint.h).
// N = swarm size, D = dimension of a position. Utilities of particles whose evaluation failed
// are -inf (written as null in JSON).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modelswarm/swarm/rng.h"

namespace modelswarm::swarm {

/// One line of the search's log. Iteration 0 is the initial evaluation.
struct IterationRecord {
  int64_t iteration = 0;
  double step_length = 0;              // λ used by this iteration's move
  std::vector<double> utilities;       // (N) every particle's current utility after it
  double global_best = 0;              // f(g) after it
  double global_worst = 0;             // f(g_w) after it
  std::vector<int64_t> restarted;      // particles sent back to their personal best
  std::vector<int64_t> evaluated;      // particles scored (the others kept their score)
  double wall_time_s = 0;              // not part of the reproducible state
  nlohmann::json extra = nlohmann::json::object();  // fields added by the caller (tokens, ...)

  /// The history.jsonl object: the fields above plus the contents of `extra`.
  nlohmann::json to_json() const;
  static IterationRecord from_json(const nlohmann::json& json);
};

enum class StopReason { kNone, kMaxIterations, kPatience };
std::string to_string(StopReason reason);

struct State {
  at::Tensor positions;                 // (N, D) fp32, x_i
  at::Tensor velocities;                // (N, D) fp32, v_i
  at::Tensor personal_best;             // (N, D) fp32, p_i
  std::vector<double> utilities;        // (N) f(x_i) as last evaluated
  std::vector<double> personal_best_utilities;  // (N) f(p_i)
  std::vector<int64_t> stagnation;      // (N) iterations since p_i last improved (reset on restart)
  std::vector<int64_t> restart_counts;  // (N)
  std::vector<int64_t> evaluation_counts;  // (N) evaluations of each particle
  at::Tensor global_best;               // (D) g
  at::Tensor global_worst;              // (D) g_w
  double global_best_utility = 0;
  double global_worst_utility = 0;
  int64_t global_best_index = 0;        // the particle that found g
  int64_t global_worst_index = 0;
  double step_length = 1;               // λ for the next iteration
  int64_t iteration = 0;                // iterations completed
  int64_t iterations_since_improvement = 0;  // of g
  int64_t evaluations = 0;              // particle evaluations in all
  Rng rng;
  std::vector<IterationRecord> history;
  StopReason stop_reason = StopReason::kNone;

  int64_t size() const { return positions.size(0); }
  int64_t dimension() const { return positions.size(1); }
  bool finished() const { return stop_reason != StopReason::kNone; }
  /// Particle indices ordered by personal-best utility, best first (ties: lower index first).
  std::vector<int64_t> ranking() const;
};

}  // namespace modelswarm::swarm
