// Model Swarms' particle swarm optimiser (docs/model-swarms.md), `search.algorithm`
// "model_swarms". Maximises utility. With N particles of dimension D:
//
//   per particle, per iteration: r_v, r_p, r_g, r_w ~ U(0,1) (all 1 without weight randomness)
//   C   = r_v·φ_v + r_p·φ_p + r_g·φ_g + r_w·φ_w
//   v_i ← (1/C)·[ r_v·φ_v·v_i + r_p·φ_p·(p_i − x_i) + r_g·φ_g·(g − x_i) − r_w·φ_w·(g_w − x_i) ]
//   x_i ← x_i + λ·v_i
//
// synchronously (g, g_w of the previous iteration), after restarting particles whose p_i has
// not improved for restart_patience iterations (x_i ← p_i, v_i ← 0, and, unlike the reference
// code, their stagnation counter is reset so each restart gets restart_patience fresh
// iterations). Then particles are evaluated (dropK / dropN may skip some: they keep their
// score), p_i is updated when strictly better, g (the driver's best) by the first particle
// reaching a new maximum, g_w by any particle below the current worst; λ ← max(λ·φ_λ, λ_min).
// The initial swarm is the initial points filled to N by crossover.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modelswarm/swarm/algorithm.h"

namespace modelswarm::swarm {

enum class InitialVelocity { kRandom, kZero, kBest };
InitialVelocity parse_initial_velocity(const std::string& name);
std::string to_string(InitialVelocity mode);

/// The hyper-parameters of Model Swarms. The defaults were chosen on the search-quality suite
/// (docs/QUALITY.md); the reference code's are model_swarms_preset("reference").
struct ModelSwarmsOptions {
  double inertia = 0.2;               // φ_v
  double cognitive = 0.3;             // φ_p: pull toward the personal best
  double social = 0.4;                // φ_g: pull toward the global best
  double repel = 0.05;                // φ_w: push away from the global worst
  double step_length = 0.5;           // λ at the start
  double step_decay = 0.95;           // φ_λ: λ ← max(λ·φ_λ, λ_min) after each iteration
  double min_step_length = 0.1;       // λ_min
  int64_t restart_patience = 5;       // c_r: restart a particle whose p_i is stale this long
  bool weight_randomness = true;      // draw r_v, r_p, r_g, r_w ~ U(0,1); false sets them to 1
  double crossover_min = 0.0;         // crossover weight w ~ U(crossover_min, crossover_max)
  double crossover_max = 2.0;
  InitialVelocity initial_velocity = InitialVelocity::kRandom;
  double drop_iteration_probability = 0.0;  // dropK: skip a whole iteration's evaluations
  double drop_particle_probability = 0.0;   // dropN: skip one particle's evaluation

  /// Throws ConfigError naming the field and the offending value.
  void validate() const;
};

/// Named starting points for the hyper-parameters (`search.preset`): "default" (the struct's
/// values) and "reference" (the argparse defaults of the paper's reference code). Throws
/// ConfigError for another name.
ModelSwarmsOptions model_swarms_preset(const std::string& name);
std::vector<std::string> model_swarms_preset_names();

/// The particles' own state, typed: a view of State::tensors (shared storage) and a copy of
/// State::data, written back with store().
struct Particles {
  at::Tensor velocities;     // (N, D) v_i
  at::Tensor personal_best;  // (N, D) p_i
  at::Tensor global_worst;   // (D) g_w
  std::vector<double> personal_best_utilities;  // (N) f(p_i)
  std::vector<int64_t> stagnation;         // (N) iterations since p_i last improved
  std::vector<int64_t> restart_counts;     // (N)
  std::vector<int64_t> evaluation_counts;  // (N)
  double global_worst_utility = 0;
  int64_t global_worst_index = 0;
  double step_length = 1;    // λ for the next iteration

  static Particles of(const State& state);
  void store(State& state) const;
  /// Particle indices by personal-best utility, best first (ties: lower index first).
  std::vector<int64_t> ranking() const;
};

class ModelSwarms : public Algorithm {
 public:
  /// Validates both (ConfigError naming the field).
  ModelSwarms(CommonOptions common, ModelSwarmsOptions options);

  std::string name() const override { return "model_swarms"; }
  nlohmann::json own_options() const override;
  void initialise(State& state, const at::Tensor& initial) const override;
  std::vector<int64_t> ask(State& state, IterationRecord& record) const override;
  void tell(State& state, const std::vector<int64_t>& evaluated, IterationRecord& record) const override;
  std::vector<Elite> elite(const State& state, int64_t k) const override;
  void check(const State& state, const std::string& where) const override;
  nlohmann::json summary(const State& state) const override;
  std::string progress(const State& state) const override;

  const ModelSwarmsOptions& options() const { return options_; }

 private:
  ModelSwarmsOptions options_;
};

}  // namespace modelswarm::swarm
