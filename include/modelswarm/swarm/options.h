// Hyper-parameters of Model Swarms (particle swarm optimisation over expert weights).
// ../shared/docs/model-swarms.md gives their meaning. The defaults were chosen on the
// search-quality suite (docs/QUALITY.md); the reference code's are preset_options("reference").
// The optimiser maximises utility.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace modelswarm::swarm {

enum class InitialVelocity { kRandom, kZero, kBest };

struct Options {
  int64_t swarm_size = 20;            // N: experts are filled up to N by crossover
  int64_t max_iterations = 200;       // K
  double inertia = 0.2;               // φ_v
  double cognitive = 0.3;             // φ_p: pull toward the personal best
  double social = 0.4;                // φ_g: pull toward the global best
  double repel = 0.05;                // φ_w: push away from the global worst
  double step_length = 0.5;           // λ at the start
  double step_decay = 0.95;           // φ_λ: λ ← max(λ·φ_λ, λ_min) after each iteration
  double min_step_length = 0.1;       // λ_min
  int64_t patience = 10;              // stop when g has not improved for this many iterations
  int64_t restart_patience = 5;       // c_r: restart a particle whose p_i is stale this long
  bool weight_randomness = true;      // draw r_v, r_p, r_g, r_w ~ U(0,1); false sets them to 1
  double crossover_min = 0.0;         // crossover weight w ~ U(crossover_min, crossover_max)
  double crossover_max = 2.0;
  InitialVelocity initial_velocity = InitialVelocity::kRandom;
  double drop_iteration_probability = 0.0;  // dropK: skip a whole iteration's evaluations
  double drop_particle_probability = 0.0;   // dropN: skip one particle's evaluation
  uint64_t seed = 42;

  /// Throws ConfigError naming the field and the offending value.
  void validate() const;
};

/// Named starting points for the hyper-parameters (`search.preset`): "default" (the struct's
/// values, chosen on the search-quality suite: docs/QUALITY.md) and "reference" (the argparse
/// defaults of the paper's reference code). Throws ConfigError for another name.
Options preset_options(const std::string& name);
/// The preset names, in the order the docs list them.
std::vector<std::string> preset_names();

/// The options under their config names ("search" keys); crossover as crossover_weight_range.
nlohmann::json to_json(const Options& options);
/// The inverse of to_json (for checkpoints); throws Error on a missing or mistyped key.
Options options_from_json(const nlohmann::json& json);

InitialVelocity parse_initial_velocity(const std::string& name);
std::string to_string(InitialVelocity mode);

}  // namespace modelswarm::swarm
