// Everything a search is at one moment, whatever its algorithm: enough to continue it exactly
// (checkpoint.h). The driver (optimiser.h) owns the generic part; each algorithm (algorithm.h)
// keeps what only it needs in `tensors` and `data`, which checkpoints carry without knowing them.
// N = rows evaluated per iteration (search.swarm_size), D = dimension of a position. Utilities
// of rows whose evaluation failed are -inf (written as null in JSON).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modelswarm/swarm/rng.h"

namespace modelswarm::swarm {

/// One line of the search's log. Iteration 0 is the initial evaluation.
struct IterationRecord {
  int64_t iteration = 0;
  std::vector<double> utilities;  // (N) every row's current utility after it
  double best = 0;                // the best utility found so far, after it ("global_best")
  std::vector<int64_t> evaluated; // rows scored (the others kept their score)
  double wall_time_s = 0;         // not part of the reproducible state
  /// Fields the algorithm (step_length, global_worst, restarted ...) and the caller (tokens ...) add.
  nlohmann::json extra = nlohmann::json::object();

  /// The history.jsonl object: the fields above plus the contents of `extra`.
  nlohmann::json to_json() const;
  static IterationRecord from_json(const nlohmann::json& json);
};

enum class StopReason { kNone, kMaxIterations, kPatience };
std::string to_string(StopReason reason);
/// The inverse of to_string; throws Error for an unknown name.
StopReason parse_stop_reason(const std::string& name);

struct State {
  at::Tensor positions;            // (N, D) fp32: the rows of the latest iteration
  std::vector<double> utilities;   // (N) as last evaluated
  at::Tensor best;                 // (D) fp32: the best position evaluated so far
  double best_utility = 0;
  int64_t best_index = 0;          // the row that found it
  int64_t iteration = 0;           // iterations completed
  int64_t iterations_since_improvement = 0;  // of best_utility
  int64_t evaluations = 0;         // row evaluations in all
  Rng rng;
  std::vector<IterationRecord> history;
  StopReason stop_reason = StopReason::kNone;
  std::map<std::string, at::Tensor> tensors;       // the algorithm's (velocities, mean, ...)
  nlohmann::json data = nlohmann::json::object();  // the algorithm's scalars and per-row lists

  int64_t size() const { return positions.size(0); }
  int64_t dimension() const { return positions.size(1); }
  bool finished() const { return stop_reason != StopReason::kNone; }
  /// 0, 1, ..., N-1: every row (what an iteration that scores them all evaluates).
  std::vector<int64_t> every_row() const;
  /// A deep copy (at::Tensor copies share storage, and a step updates tensors in place).
  State clone() const;
  /// One of the algorithm's tensors; Error naming it when missing.
  at::Tensor& tensor(const std::string& name);
  const at::Tensor& tensor(const std::string& name) const;
};

}  // namespace modelswarm::swarm
