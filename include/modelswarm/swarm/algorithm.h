// Search algorithms as plug-ins (pagmo2's split: the algorithm here, the problem in problem.h).
// An algorithm proposes rows, the driver (optimiser.h) scores them and keeps what every
// algorithm shares (the best position, the stop rules, the history); the algorithm takes the
// scores and updates its own part of the state. Each algorithm is one file in
// src/swarm/algorithms/ plus one registry line, and reads and checks its own `search` keys.
//
//   model_swarms   particle swarm optimisation (docs/model-swarms.md), the default
//   cma_es         (μ/μ_w, λ)-CMA-ES
//   random_search  uniform samples around the experts: the floor every method must beat
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modelswarm/swarm/state.h"

namespace modelswarm {
class JsonReader;
}

namespace modelswarm::swarm {

/// The `search` keys every algorithm shares: how many rows an iteration scores, when to stop,
/// and the seed of the search's random stream.
struct CommonOptions {
  int64_t swarm_size = 20;       // N: rows per iteration (particles, CMA-ES's λ, samples)
  int64_t max_iterations = 200;  // K
  int64_t patience = 10;         // stop when the best has not improved for this many iterations
  uint64_t seed = 42;

  /// Throws ConfigError naming the field and the offending value.
  void validate() const;
};

/// One of the best positions an algorithm found (top_k/ and the returned adapter's candidates).
struct Elite {
  at::Tensor position;  // (D)
  double utility = 0;   // on the split the search maximised
  std::string label;    // "particle 4", "iteration 7, row 2"
  int64_t row = 0;      // the row (particle) it belongs to or was found at
};

class Algorithm {
 public:
  explicit Algorithm(CommonOptions common);
  virtual ~Algorithm() = default;

  /// The registry name (`search.algorithm`).
  virtual std::string name() const = 0;
  /// The algorithm's own `search` keys with their values (not the common ones).
  virtual nlohmann::json own_options() const = 0;

  /// Fills state.positions (N, D) for iteration 0 from the initial points (n, D), n ≤ N (the
  /// experts, then perhaps their average), which must be rows 0..n-1, and sets up its own state.
  /// Every row is evaluated next.
  virtual void initialise(State& state, const at::Tensor& initial) const = 0;
  /// Moves state.positions to iteration state.iteration + 1's rows; returns the rows to evaluate
  /// (the others keep their utility). May add fields to record.extra.
  virtual std::vector<int64_t> ask(State& state, IterationRecord& record) const = 0;
  /// Takes the utilities of `evaluated` (already in state.utilities; the driver has updated
  /// state.best) and updates the algorithm's own state.
  virtual void tell(State& state, const std::vector<int64_t>& evaluated, IterationRecord& record) const = 0;
  /// Up to k of the best positions found, best first.
  virtual std::vector<Elite> elite(const State& state, int64_t k) const = 0;
  /// Checks the algorithm's part of a state read from a checkpoint; throws Error naming `where`.
  virtual void check(const State& state, const std::string& where) const = 0;

  /// Algorithm-specific figures for report.json (e.g. restarts); an object.
  virtual nlohmann::json summary(const State& state) const;
  /// A few words for the progress line ("worst 0.1  step 0.4"), or "".
  virtual std::string progress(const State& state) const;

  const CommonOptions& common() const { return common_; }

 private:
  CommonOptions common_;
};

/// All `search` keys of an algorithm as its config spells them: "algorithm", the common keys,
/// then its own. Checkpoints and report.json keep this; algorithm_from_json reads it back.
nlohmann::json to_json(const Algorithm& algorithm);

/// Reads `search.algorithm` (default "model_swarms"), the common keys and the algorithm's own
/// keys from a config's `search` object. Keys it does not know are left to the caller's
/// reject_unknown_keys (see reject_unknown_search_keys). Throws ConfigError naming the key.
std::shared_ptr<const Algorithm> read_algorithm(JsonReader& search);
/// read_algorithm on a JSON object, rejecting unknown keys; `source` names it in errors.
std::shared_ptr<const Algorithm> algorithm_from_json(const nlohmann::json& search, const std::string& source);
/// reader.reject_unknown_keys(), the message naming the algorithm and the keys it reads: a key
/// of another algorithm is the likely mistake.
void reject_unknown_search_keys(const JsonReader& search, const Algorithm& algorithm);

/// The registered names, sorted, and each one's one-line summary.
std::vector<std::string> algorithm_names();
std::string algorithm_summary(const std::string& name);

}  // namespace modelswarm::swarm
