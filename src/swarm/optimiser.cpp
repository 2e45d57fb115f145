#include "modelswarm/swarm/optimiser.h"

#include <ATen/ATen.h>

#include <chrono>
#include <limits>

#include "modelswarm/common/error.h"

namespace modelswarm::swarm {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

at::Tensor index_tensor(const std::vector<int64_t>& indices, const c10::Device& device) {
  return at::tensor(indices, at::kLong).to(device);
}

void check_stop(State& s, const CommonOptions& o) {
  if (s.iteration >= o.max_iterations) s.stop_reason = StopReason::kMaxIterations;
  else if (s.iterations_since_improvement >= o.patience) s.stop_reason = StopReason::kPatience;
}

// Every iteration, the first included, ends the same way: its record joins the history and the
// stop rules are checked against the updated state.
void close_iteration(State& s, const CommonOptions& o, IterationRecord& record,
                     std::chrono::steady_clock::time_point start) {
  // A checkpoint gives back contiguous tensors; an algorithm's tensor in another layout (LAPACK's
  // column-major eigenvectors, a transpose) would take other BLAS paths after a resume than
  // before it, and differ in the last bits.
  if (!s.positions.is_contiguous()) s.positions = s.positions.contiguous();
  for (auto& [name, t] : s.tensors)
    if (!t.is_contiguous()) t = t.contiguous();
  record.utilities = s.utilities;
  record.best = s.best_utility;
  record.wall_time_s = seconds_since(start);
  s.history.push_back(record);
  check_stop(s, o);
}

}  // namespace

Optimiser::Optimiser(const Algorithm& algorithm, Problem& problem) : algorithm_(&algorithm), problem_(&problem) {}

std::vector<double> Optimiser::evaluate(const PendingIteration& pending) const {
  if (pending.rows.empty()) return {};
  return evaluate_checked(*problem_, pending.positions, pending.rows);  // (M)
}

State Optimiser::begin_initial(const at::Tensor& initial, PendingIteration& pending) const {
  pending.start = std::chrono::steady_clock::now();
  const CommonOptions& o = algorithm_->common();
  MS_CHECK(initial.dim() == 2 && initial.size(0) >= 1, "a search needs at least one initial point, got shape ",
           initial.sizes());
  MS_CHECK(initial.size(1) == problem_->dimension(), "initial points have dimension ", initial.size(1), " but ",
           problem_->name(), " expects ", problem_->dimension());
  MS_CHECK(initial.size(0) <= o.swarm_size, "search.swarm_size (", o.swarm_size,
           ") must be at least the number of initial points (", initial.size(0), ")");
  State s;
  s.rng = Rng(o.seed);
  algorithm_->initialise(s, initial);
  TORCH_INTERNAL_ASSERT(s.positions.dim() == 2 && s.size() == o.swarm_size && s.dimension() == initial.size(1),
                        algorithm_->name(), " initialised positions of shape ", s.positions.sizes());
  s.utilities.assign(s.size(), -std::numeric_limits<double>::infinity());
  pending.record = IterationRecord();
  pending.record.iteration = 0;
  pending.rows = s.every_row();
  pending.positions = s.positions;
  return s;
}

PendingIteration Optimiser::begin_step(State& s) const {
  MS_CHECK(!s.finished(), "begin_step on a finished search");
  PendingIteration pending;
  pending.start = std::chrono::steady_clock::now();
  pending.record.iteration = s.iteration + 1;
  pending.rows = algorithm_->ask(s, pending.record);
  const bool all = static_cast<int64_t>(pending.rows.size()) == s.size();
  pending.positions =
      all ? s.positions : s.positions.index_select(0, index_tensor(pending.rows, s.positions.device()));
  return pending;
}

void Optimiser::finish(State& s, const PendingIteration& pending, const std::vector<double>& utilities) const {
  const std::vector<int64_t>& rows = pending.rows;
  MS_CHECK(utilities.size() == rows.size(), "finish: ", utilities.size(), " utilities for ", rows.size(), " rows");
  IterationRecord record = pending.record;
  record.evaluated = rows;
  for (size_t m = 0; m < rows.size(); ++m) s.utilities[rows[m]] = utilities[m];
  s.evaluations += static_cast<int64_t>(rows.size());

  if (record.iteration == 0) {
    // The best starts at the first row of the highest utility.
    s.best_index = 0;
    for (int64_t i = 1; i < s.size(); ++i)
      if (s.utilities[i] > s.utilities[s.best_index]) s.best_index = i;
    s.best = s.positions[s.best_index].clone();
    s.best_utility = s.utilities[s.best_index];
    algorithm_->tell(s, rows, record);
    close_iteration(s, algorithm_->common(), record, pending.start);
    return;
  }
  // The best moves to the iteration's best row (the first of equals) when that is strictly better.
  int64_t new_best = -1;
  for (int64_t i : rows) {
    if (s.utilities[i] > s.best_utility) {
      s.best_utility = s.utilities[i];
      new_best = i;
    }
  }
  if (new_best >= 0) {
    s.best = s.positions[new_best].clone();
    s.best_index = new_best;
    s.iterations_since_improvement = 0;
  } else {
    ++s.iterations_since_improvement;
  }
  algorithm_->tell(s, rows, record);
  ++s.iteration;
  close_iteration(s, algorithm_->common(), record, pending.start);
}

State Optimiser::initialise(const at::Tensor& initial) const {
  PendingIteration pending;
  State s = begin_initial(initial, pending);
  finish(s, pending, evaluate(pending));
  return s;
}

bool Optimiser::step(State& s) const {
  if (s.finished()) return false;
  const PendingIteration pending = begin_step(s);
  finish(s, pending, evaluate(pending));
  return true;
}

void Optimiser::update_stop_reason(State& state) const {
  state.stop_reason = StopReason::kNone;
  check_stop(state, algorithm_->common());
}

void Optimiser::run(State& state) const {
  while (step(state)) {
  }
}

}  // namespace modelswarm::swarm
