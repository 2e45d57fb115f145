#include "modelswarm/swarm/swarm.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"

namespace modelswarm::swarm {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

at::Tensor index_tensor(const std::vector<int64_t>& indices, const c10::Device& device) {
  return at::tensor(indices, at::kLong).to(device);
}

// A (N) host vector as an (N, 1) fp32 column on `device`, to scale the rows of an (N, D) tensor.
at::Tensor column(const std::vector<double>& values, const c10::Device& device) {
  return at::tensor(values, at::kDouble).to(at::kFloat).view({-1, 1}).to(device);
}

void check_stop(State& s, const Options& o) {
  if (s.iteration >= o.max_iterations) s.stop_reason = StopReason::kMaxIterations;
  else if (s.iterations_since_improvement >= o.patience) s.stop_reason = StopReason::kPatience;
}

// Every iteration, the first included, ends the same way: its record joins the history and the
// stop rules are checked against the updated state.
void close_iteration(State& s, const Options& o, IterationRecord& record,
                     std::chrono::steady_clock::time_point start) {
  record.utilities = s.utilities;
  record.global_best = s.global_best_utility;
  record.global_worst = s.global_worst_utility;
  record.wall_time_s = seconds_since(start);
  s.history.push_back(record);
  check_stop(s, o);
}

}  // namespace

Swarm::Swarm(Options options, Problem& problem) : options_(options), problem_(&problem) {
  options_.validate();
}

void Swarm::evaluate(State& s, const std::vector<int64_t>& particles, IterationRecord& record) const {
  record.evaluated = particles;
  if (particles.empty()) return;
  const bool all = static_cast<int64_t>(particles.size()) == s.size();
  at::Tensor rows = all ? s.positions : s.positions.index_select(0, index_tensor(particles, s.positions.device()));
  const std::vector<double> utilities = evaluate_checked(*problem_, rows, particles);  // (M)
  for (size_t m = 0; m < particles.size(); ++m) {
    s.utilities[particles[m]] = utilities[m];
    ++s.evaluation_counts[particles[m]];
  }
  s.evaluations += static_cast<int64_t>(particles.size());
}

State Swarm::initialise(const at::Tensor& initial) const {
  const auto start = std::chrono::steady_clock::now();
  const Options& o = options_;
  MS_CHECK(initial.dim() == 2 && initial.size(0) >= 2, "the swarm needs at least 2 initial particles, got shape ",
           initial.sizes());
  MS_CHECK(initial.size(1) == problem_->dimension(), "initial particles have dimension ", initial.size(1),
           " but ", problem_->name(), " expects ", problem_->dimension());
  MS_CHECK(initial.size(0) <= o.swarm_size, "search.swarm_size (", o.swarm_size,
           ") must be at least the number of initial particles (", initial.size(0), ")");
  State s;
  s.rng = Rng(o.seed);
  s.step_length = o.step_length;

  // 1. Crossover fill: children join the list and can be parents themselves.
  std::vector<at::Tensor> rows;  // each (D)
  const at::Tensor experts = initial.to(at::kFloat).contiguous();
  for (int64_t i = 0; i < experts.size(0); ++i) rows.push_back(experts[i]);
  while (static_cast<int64_t>(rows.size()) < o.swarm_size) {
    const int64_t count = static_cast<int64_t>(rows.size());
    const int64_t a = s.rng.index(count);
    int64_t b = s.rng.index(count - 1);
    if (b >= a) ++b;
    const double w = s.rng.uniform(o.crossover_min, o.crossover_max);
    rows.push_back(rows[a] * w + rows[b] * (1.0 - w));
  }
  s.positions = at::stack(rows);  // (N, D)
  const int64_t n = s.size();
  const c10::Device device = s.positions.device();

  // 2. Initial velocity (`best` needs g, so it is set after the first evaluation).
  if (o.initial_velocity == InitialVelocity::kRandom) {
    std::vector<int64_t> toward(n);
    for (int64_t i = 0; i < n; ++i) {
      int64_t j = s.rng.index(n - 1);
      toward[i] = j >= i ? j + 1 : j;
    }
    s.velocities = s.positions.index_select(0, index_tensor(toward, device)) - s.positions;
  } else {
    s.velocities = at::zeros_like(s.positions);
  }

  // 3. First evaluation: p_i = x_i, g = first argmax, g_w = first argmin.
  s.utilities.assign(n, -std::numeric_limits<double>::infinity());
  s.evaluation_counts.assign(n, 0);
  s.stagnation.assign(n, 0);
  s.restart_counts.assign(n, 0);
  IterationRecord record;
  record.iteration = 0;
  record.step_length = s.step_length;
  std::vector<int64_t> everyone(n);
  for (int64_t i = 0; i < n; ++i) everyone[i] = i;
  evaluate(s, everyone, record);
  s.personal_best = s.positions.clone();
  s.personal_best_utilities = s.utilities;
  s.global_best_index = 0;
  s.global_worst_index = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (s.utilities[i] > s.utilities[s.global_best_index]) s.global_best_index = i;
    if (s.utilities[i] < s.utilities[s.global_worst_index]) s.global_worst_index = i;
  }
  s.global_best = s.positions[s.global_best_index].clone();
  s.global_worst = s.positions[s.global_worst_index].clone();
  s.global_best_utility = s.utilities[s.global_best_index];
  s.global_worst_utility = s.utilities[s.global_worst_index];
  if (o.initial_velocity == InitialVelocity::kBest) s.velocities = s.global_best.unsqueeze(0) - s.positions;

  close_iteration(s, o, record, start);
  return s;
}

bool Swarm::step(State& s) const {
  if (s.finished()) return false;
  const auto start = std::chrono::steady_clock::now();
  const Options& o = options_;
  const int64_t n = s.size();
  const c10::Device device = s.positions.device();
  IterationRecord record;
  record.iteration = s.iteration + 1;
  record.step_length = s.step_length;

  // Restart stray particles from their personal best, with zero velocity and a fresh counter.
  for (int64_t i = 0; i < n; ++i) {
    if (s.stagnation[i] < o.restart_patience) continue;
    record.restarted.push_back(i);
    s.stagnation[i] = 0;
    ++s.restart_counts[i];
  }
  if (!record.restarted.empty()) {
    const at::Tensor which = index_tensor(record.restarted, device);
    s.positions.index_copy_(0, which, s.personal_best.index_select(0, which));
    s.velocities.index_fill_(0, which, 0);
  }

  // Velocity factors, one draw each per particle, normalised by C.
  std::vector<double> keep(n), to_personal(n), to_global(n), from_worst(n);  // (N) each
  for (int64_t i = 0; i < n; ++i) {
    double r_v = 1, r_p = 1, r_g = 1, r_w = 1;
    if (o.weight_randomness) {
      r_v = s.rng.uniform();
      r_p = s.rng.uniform();
      r_g = s.rng.uniform();
      r_w = s.rng.uniform();
    }
    const double c = r_v * o.inertia + r_p * o.cognitive + r_g * o.social + r_w * o.repel;
    keep[i] = r_v * o.inertia / c;
    to_personal[i] = r_p * o.cognitive / c;
    to_global[i] = r_g * o.social / c;
    from_worst[i] = r_w * o.repel / c;
  }

  // Synchronous update over (N, D): g (1, D) and g_w (1, D) are the previous iteration's.
  at::Tensor& x = s.positions;
  at::Tensor& v = s.velocities;
  v.mul_(column(keep, device));
  v.add_((s.personal_best - x).mul_(column(to_personal, device)));
  v.add_((s.global_best.unsqueeze(0) - x).mul_(column(to_global, device)));
  v.sub_((s.global_worst.unsqueeze(0) - x).mul_(column(from_worst, device)));
  x.add_(v, s.step_length);

  // Evaluation, possibly skipping the whole iteration (dropK) or single particles (dropN).
  std::vector<int64_t> scored;
  const bool skip_iteration =
      o.drop_iteration_probability > 0 && s.rng.uniform() < o.drop_iteration_probability;
  if (!skip_iteration) {
    for (int64_t i = 0; i < n; ++i) {
      if (o.drop_particle_probability > 0 && s.rng.uniform() < o.drop_particle_probability) continue;
      scored.push_back(i);
    }
  }
  evaluate(s, scored, record);

  // Personal bests (strictly better), then g and g_w in particle order.
  std::vector<int64_t> improved;
  std::vector<bool> is_improved(n, false);
  for (int64_t i : scored) {
    if (s.utilities[i] > s.personal_best_utilities[i]) {
      s.personal_best_utilities[i] = s.utilities[i];
      improved.push_back(i);
      is_improved[i] = true;
    }
  }
  if (!improved.empty()) {
    const at::Tensor which = index_tensor(improved, device);
    s.personal_best.index_copy_(0, which, x.index_select(0, which));
  }
  for (int64_t i = 0; i < n; ++i) s.stagnation[i] = is_improved[i] ? 0 : s.stagnation[i] + 1;

  int64_t new_best = -1, new_worst = -1;
  for (int64_t i : scored) {
    if (s.utilities[i] > s.global_best_utility) {
      s.global_best_utility = s.utilities[i];
      new_best = i;
    }
    if (s.utilities[i] < s.global_worst_utility) {
      s.global_worst_utility = s.utilities[i];
      new_worst = i;
    }
  }
  if (new_best >= 0) {
    s.global_best = x[new_best].clone();
    s.global_best_index = new_best;
    s.iterations_since_improvement = 0;
  } else {
    ++s.iterations_since_improvement;
  }
  if (new_worst >= 0) {
    s.global_worst = x[new_worst].clone();
    s.global_worst_index = new_worst;
  }

  s.step_length = std::max(s.step_length * o.step_decay, o.min_step_length);
  ++s.iteration;
  close_iteration(s, o, record, start);
  return true;
}

void Swarm::update_stop_reason(State& state) const {
  state.stop_reason = StopReason::kNone;
  check_stop(state, options_);
}

void Swarm::run(State& state) const {
  while (step(state)) {
  }
}

}  // namespace modelswarm::swarm
