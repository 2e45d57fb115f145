// The driver every search algorithm runs under (ask / evaluate / tell). Maximises utility.
//
//   iteration 0:  algorithm.initialise → evaluate every row → best = first argmax → tell
//   iteration k:  algorithm.ask → evaluate the rows it names → best ← first row beating it → tell
//
// after which the record joins the history and the stop rules are checked: max_iterations
// reached, or the best not improved for `patience` iterations. Evaluation goes through
// evaluate_checked (problem.h): a failing row scores -inf and the search goes on.
#pragma once

#include <ATen/core/Tensor.h>

#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/swarm/problem.h"
#include "modelswarm/swarm/state.h"

namespace modelswarm::swarm {

class Optimiser {
 public:
  Optimiser(const Algorithm& algorithm, Problem& problem);

  /// Starts a search from `initial` (n, D), 1 ≤ n ≤ swarm_size; the state lives on its device.
  State initialise(const at::Tensor& initial) const;

  /// One iteration. Returns false (and does nothing) when the state is already finished.
  bool step(State& state) const;

  /// Sets (or clears) state.stop_reason from the current options: lets a resumed run with a
  /// larger max_iterations or patience continue a run that had stopped.
  void update_stop_reason(State& state) const;

  /// Steps until finished.
  void run(State& state) const;

  const Algorithm& algorithm() const { return *algorithm_; }

 private:
  void evaluate(State& state, const std::vector<int64_t>& rows, IterationRecord& record) const;

  const Algorithm* algorithm_;
  Problem* problem_;
};

}  // namespace modelswarm::swarm
