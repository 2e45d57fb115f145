// Model Swarms under the driver as one object, with its options flat, as the optimiser's tests
// use them: Swarm(options, problem).initialise(experts), step, run.
#pragma once

#include "modelswarm/swarm/model_swarms.h"
#include "modelswarm/swarm/optimiser.h"

namespace modelswarm::test {

struct PsoOptions : swarm::CommonOptions, swarm::ModelSwarmsOptions {};

class Swarm {
 public:
  Swarm(const PsoOptions& options, swarm::Problem& problem)
      : algorithm_(options, options), optimiser_(algorithm_, problem) {}
  Swarm(const Swarm&) = delete;
  Swarm& operator=(const Swarm&) = delete;

  swarm::State initialise(const at::Tensor& initial) const { return optimiser_.initialise(initial); }
  bool step(swarm::State& state) const { return optimiser_.step(state); }
  void run(swarm::State& state) const { optimiser_.run(state); }
  const swarm::ModelSwarms& algorithm() const { return algorithm_; }

 private:
  swarm::ModelSwarms algorithm_;
  swarm::Optimiser optimiser_;
};

/// The particles' own state (velocities, personal bests, ...) of a Model Swarms state.
inline swarm::Particles particles(const swarm::State& state) { return swarm::Particles::of(state); }

}  // namespace modelswarm::test
