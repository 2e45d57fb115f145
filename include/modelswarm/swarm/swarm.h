// Model Swarms' particle swarm optimiser (../shared/docs/model-swarms.md), kept apart from what
// it optimises (problem.h). Maximises utility. With N particles of dimension D:
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
// score), p_i is updated when strictly better, g by the first particle reaching a new maximum,
// g_w by any particle below the current worst; λ ← max(λ·φ_λ, λ_min). It stops after
// max_iterations, or when g has not improved for `patience` iterations.
#pragma once

#include <ATen/core/Tensor.h>

#include "modelswarm/swarm/options.h"
#include "modelswarm/swarm/problem.h"
#include "modelswarm/swarm/state.h"

namespace modelswarm::swarm {

class Swarm {
 public:
  /// Validates the options (ConfigError naming the field).
  Swarm(Options options, Problem& problem);

  /// Fills `initial` (n, D), n ≥ 2, to N particles by crossover, sets the initial velocities,
  /// evaluates every particle and sets p_i, g, g_w. The state lives on initial's device.
  State initialise(const at::Tensor& initial) const;

  /// One iteration. Returns false (and does nothing) when the state is already finished;
  /// otherwise moves, evaluates, records history and sets state.stop_reason when it is done.
  bool step(State& state) const;

  /// Steps until finished.
  void run(State& state) const;

  const Options& options() const { return options_; }

 private:
  void evaluate(State& state, const std::vector<int64_t>& particles, IterationRecord& record) const;

  Options options_;
  Problem* problem_;
};

}  // namespace modelswarm::swarm
