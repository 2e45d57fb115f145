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

#include <chrono>
#include <vector>

#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/swarm/problem.h"
#include "modelswarm/swarm/state.h"

namespace modelswarm::swarm {

/// An iteration whose rows are chosen but not yet scored. step() and initialise() score them at
/// once; a driver that scores the rows of several searches in one engine pass (the sweep) takes
/// `positions` from each search's begin, scores their union, and hands each its utilities.
struct PendingIteration {
  IterationRecord record;
  std::vector<int64_t> rows;  // the state's rows to score
  at::Tensor positions;       // (M, D) those rows
  std::chrono::steady_clock::time_point start;
};

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

  /// initialise() without the scoring: the state of iteration 0 and the rows it must score.
  State begin_initial(const at::Tensor& initial, PendingIteration& pending) const;
  /// step() without the scoring: moves the state to the next iteration's rows and returns them.
  /// The state must not be finished.
  PendingIteration begin_step(State& state) const;
  /// Completes a begun iteration with the utilities of pending.positions (M, non-finite for a
  /// failed row: evaluate_checked's output).
  void finish(State& state, const PendingIteration& pending, const std::vector<double>& utilities) const;

  /// Steps until finished.
  void run(State& state) const;

  const Algorithm& algorithm() const { return *algorithm_; }

 private:
  std::vector<double> evaluate(const PendingIteration& pending) const;

  const Algorithm* algorithm_;
  Problem* problem_;
};

}  // namespace modelswarm::swarm
