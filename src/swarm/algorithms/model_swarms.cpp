// Model Swarms (model_swarms.h): the particle swarm, its options and its presets.
#include "modelswarm/swarm/model_swarms.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <sstream>

#include "modelswarm/common/error.h"
#include "modelswarm/common/strings.h"
#include "modelswarm/swarm/json_number.h"
#include "swarm/algorithms/option_fields.h"
#include "swarm/algorithms/registry.h"

namespace modelswarm::swarm {

namespace {

using O = ModelSwarmsOptions;

const detail::OptionFields<O>& fields() {
  using namespace detail;
  static const auto f =
      OptionFields<O>()
          .number("inertia", &O::inertia, non_negative())
          .number("cognitive", &O::cognitive, non_negative())
          .number("social", &O::social, non_negative())
          .number("repel", &O::repel, non_negative())
          .number("step_length", &O::step_length, positive())
          .number("step_decay", &O::step_decay, above_up_to(0, 1))
          .number("min_step_length", &O::min_step_length, non_negative())
          .number("restart_patience", &O::restart_patience, at_least(1))
          .flag("weight_randomness", &O::weight_randomness)
          .range("crossover_weight_range", &O::crossover_min, &O::crossover_max)
          .choice<InitialVelocity>("initial_velocity", &O::initial_velocity, parse_initial_velocity,
                                   [](InitialVelocity v) { return to_string(v); })
          .number("drop_iteration_probability", &O::drop_iteration_probability, in_range(0, 1, /*open_high=*/true))
          .number("drop_particle_probability", &O::drop_particle_probability, in_range(0, 1, /*open_high=*/true));
  return f;
}

at::Tensor index_tensor(const std::vector<int64_t>& indices, const c10::Device& device) {
  return at::tensor(indices, at::kLong).to(device);
}

// A (N) host vector as an (N, 1) fp32 column on `device`, to scale the rows of an (N, D) tensor.
at::Tensor column(const std::vector<double>& values, const c10::Device& device) {
  return at::tensor(values, at::kDouble).to(at::kFloat).view({-1, 1}).to(device);
}

}  // namespace

void ModelSwarmsOptions::validate() const {
  fields().validate(*this);
  if (!(inertia + cognitive + social + repel > 0))
    detail::fail_option("inertia", "inertia + cognitive + social + repel must be positive",
                        cat(inertia + cognitive + social + repel));
}

ModelSwarmsOptions model_swarms_preset(const std::string& name) {
  ModelSwarmsOptions o;
  if (name == "default") return o;
  if (name == "reference") {
    o.inertia = 0.4;
    o.cognitive = 0.3;
    o.social = 0.3;
    o.repel = 0.3;
    o.step_length = 1.0;
    o.step_decay = 0.95;
    o.min_step_length = 0.1;
    o.restart_patience = 5;
    return o;
  }
  throw ConfigError(cat("search.preset: must be one of ", join(model_swarms_preset_names(), ", "), ", got \"", name,
                        "\""));
}

std::vector<std::string> model_swarms_preset_names() { return {"default", "reference"}; }

InitialVelocity parse_initial_velocity(const std::string& name) {
  if (name == "random") return InitialVelocity::kRandom;
  if (name == "zero") return InitialVelocity::kZero;
  if (name == "best") return InitialVelocity::kBest;
  throw ConfigError(cat("search.initial_velocity: must be random, zero or best, got \"", name, "\""));
}

std::string to_string(InitialVelocity mode) {
  switch (mode) {
    case InitialVelocity::kRandom: return "random";
    case InitialVelocity::kZero: return "zero";
    case InitialVelocity::kBest: return "best";
  }
  return "?";
}

// ---- the particles' part of the state --------------------------------------------------------

Particles Particles::of(const State& s) {
  Particles p;
  p.velocities = s.tensor("velocities");
  p.personal_best = s.tensor("personal_best");
  p.global_worst = s.tensor("global_worst");
  const auto& d = s.data;
  try {
    p.personal_best_utilities = utilities_from_json(d.at("personal_best_utilities"));
    p.stagnation = d.at("stagnation").get<std::vector<int64_t>>();
    p.restart_counts = d.at("restart_counts").get<std::vector<int64_t>>();
    p.evaluation_counts = d.at("evaluation_counts").get<std::vector<int64_t>>();
    p.global_worst_utility = utility_from_json(d.at("global_worst_utility"));
    p.global_worst_index = d.at("global_worst_index").get<int64_t>();
    p.step_length = d.at("step_length").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat("model_swarms state: ", e.what()));
  }
  return p;
}

void Particles::store(State& s) const {
  s.tensors["velocities"] = velocities;
  s.tensors["personal_best"] = personal_best;
  s.tensors["global_worst"] = global_worst;
  s.data = {{"personal_best_utilities", utilities_to_json(personal_best_utilities)},
            {"stagnation", stagnation},
            {"restart_counts", restart_counts},
            {"evaluation_counts", evaluation_counts},
            {"global_worst_utility", utility_to_json(global_worst_utility)},
            {"global_worst_index", global_worst_index},
            {"step_length", step_length}};
}

std::vector<int64_t> Particles::ranking() const {
  std::vector<int64_t> order(personal_best_utilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return personal_best_utilities[a] > personal_best_utilities[b];
  });
  return order;
}

// ---- the algorithm ---------------------------------------------------------------------------

ModelSwarms::ModelSwarms(CommonOptions common, ModelSwarmsOptions options) : Algorithm(common), options_(options) {
  options_.validate();
}

nlohmann::json ModelSwarms::own_options() const { return fields().to_json(options_); }

void ModelSwarms::initialise(State& s, const at::Tensor& initial) const {
  const ModelSwarmsOptions& o = options_;
  MS_CHECK(initial.size(0) >= 2, "model_swarms needs at least 2 initial particles, got ", initial.size(0));
  // 1. Crossover fill: children join the list and can be parents themselves.
  std::vector<at::Tensor> rows;  // each (D)
  const at::Tensor experts = initial.to(at::kFloat).contiguous();
  for (int64_t i = 0; i < experts.size(0); ++i) rows.push_back(experts[i]);
  while (static_cast<int64_t>(rows.size()) < common().swarm_size) {
    const int64_t count = static_cast<int64_t>(rows.size());
    const int64_t a = s.rng.index(count);
    int64_t b = s.rng.index(count - 1);
    if (b >= a) ++b;
    const double w = s.rng.uniform(o.crossover_min, o.crossover_max);
    rows.push_back(rows[a] * w + rows[b] * (1.0 - w));
  }
  s.positions = at::stack(rows);  // (N, D)
  const int64_t n = s.size();

  // 2. Initial velocity (`best` needs g, so tell sets it after the first evaluation).
  Particles p;
  if (o.initial_velocity == InitialVelocity::kRandom) {
    std::vector<int64_t> toward(n);
    for (int64_t i = 0; i < n; ++i) {
      int64_t j = s.rng.index(n - 1);
      toward[i] = j >= i ? j + 1 : j;
    }
    p.velocities = s.positions.index_select(0, index_tensor(toward, s.positions.device())) - s.positions;
  } else {
    p.velocities = at::zeros_like(s.positions);
  }
  p.personal_best = s.positions.clone();
  p.global_worst = s.positions[0].clone();
  p.stagnation.assign(n, 0);
  p.restart_counts.assign(n, 0);
  p.evaluation_counts.assign(n, 0);
  p.step_length = o.step_length;
  p.store(s);
}

std::vector<int64_t> ModelSwarms::ask(State& s, IterationRecord& record) const {
  const ModelSwarmsOptions& o = options_;
  Particles p = Particles::of(s);
  const int64_t n = s.size();
  const c10::Device device = s.positions.device();
  record.extra["step_length"] = p.step_length;

  // Restart stray particles from their personal best, with zero velocity and a fresh counter.
  std::vector<int64_t> restarted;
  for (int64_t i = 0; i < n; ++i) {
    if (p.stagnation[i] < o.restart_patience) continue;
    restarted.push_back(i);
    p.stagnation[i] = 0;
    ++p.restart_counts[i];
  }
  record.extra["restarted"] = restarted;
  if (!restarted.empty()) {
    const at::Tensor which = index_tensor(restarted, device);
    s.positions.index_copy_(0, which, p.personal_best.index_select(0, which));
    p.velocities.index_fill_(0, which, 0);
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
  at::Tensor& v = p.velocities;
  v.mul_(column(keep, device));
  v.add_((p.personal_best - x).mul_(column(to_personal, device)));
  v.add_((s.best.unsqueeze(0) - x).mul_(column(to_global, device)));
  v.sub_((p.global_worst.unsqueeze(0) - x).mul_(column(from_worst, device)));
  x.add_(v, p.step_length);

  // Evaluation, possibly skipping the whole iteration (dropK) or single particles (dropN).
  std::vector<int64_t> scored;
  const bool skip_iteration = o.drop_iteration_probability > 0 && s.rng.uniform() < o.drop_iteration_probability;
  if (!skip_iteration) {
    for (int64_t i = 0; i < n; ++i) {
      if (o.drop_particle_probability > 0 && s.rng.uniform() < o.drop_particle_probability) continue;
      scored.push_back(i);
    }
  }
  p.store(s);
  return scored;
}

void ModelSwarms::tell(State& s, const std::vector<int64_t>& scored, IterationRecord& record) const {
  Particles p = Particles::of(s);
  const int64_t n = s.size();
  for (int64_t i : scored) ++p.evaluation_counts[i];

  if (record.iteration == 0) {
    // p_i = x_i, g_w = the first argmin (g, the driver's best, is the first argmax).
    p.personal_best = s.positions.clone();
    p.personal_best_utilities = s.utilities;
    p.global_worst_index = 0;
    for (int64_t i = 1; i < n; ++i)
      if (s.utilities[i] < s.utilities[p.global_worst_index]) p.global_worst_index = i;
    p.global_worst = s.positions[p.global_worst_index].clone();
    p.global_worst_utility = s.utilities[p.global_worst_index];
    if (options_.initial_velocity == InitialVelocity::kBest) p.velocities = s.best.unsqueeze(0) - s.positions;
    record.extra["step_length"] = options_.step_length;
    record.extra["restarted"] = std::vector<int64_t>{};
  } else {
    // Personal bests (strictly better), then g_w in particle order.
    std::vector<int64_t> improved;
    std::vector<bool> is_improved(n, false);
    for (int64_t i : scored) {
      if (s.utilities[i] > p.personal_best_utilities[i]) {
        p.personal_best_utilities[i] = s.utilities[i];
        improved.push_back(i);
        is_improved[i] = true;
      }
    }
    if (!improved.empty()) {
      const at::Tensor which = index_tensor(improved, s.positions.device());
      p.personal_best.index_copy_(0, which, s.positions.index_select(0, which));
    }
    for (int64_t i = 0; i < n; ++i) p.stagnation[i] = is_improved[i] ? 0 : p.stagnation[i] + 1;
    int64_t new_worst = -1;
    for (int64_t i : scored) {
      if (s.utilities[i] < p.global_worst_utility) {
        p.global_worst_utility = s.utilities[i];
        new_worst = i;
      }
    }
    if (new_worst >= 0) {
      p.global_worst = s.positions[new_worst].clone();
      p.global_worst_index = new_worst;
    }
    p.step_length = std::max(p.step_length * options_.step_decay, options_.min_step_length);
  }
  record.extra["global_worst"] = utility_to_json(p.global_worst_utility);
  p.store(s);
}

std::vector<Elite> ModelSwarms::elite(const State& s, int64_t k) const {
  const Particles p = Particles::of(s);
  const std::vector<int64_t> ranking = p.ranking();
  std::vector<Elite> out;
  for (int64_t r = 0; r < std::min<int64_t>(k, static_cast<int64_t>(ranking.size())); ++r) {
    const int64_t i = ranking[r];
    out.push_back({p.personal_best[i], p.personal_best_utilities[i], cat("particle ", i), i});
  }
  return out;
}

void ModelSwarms::check(const State& s, const std::string& where) const {
  const Particles p = Particles::of(s);
  const int64_t n = s.size(), d = s.dimension();
  for (const at::Tensor* t : {&p.velocities, &p.personal_best})
    MS_CHECK(t->sizes() == s.positions.sizes(), where, ": velocities and personal bests must match positions (", n,
             ", ", d, ")");
  MS_CHECK(p.global_worst.dim() == 1 && p.global_worst.size(0) == d, where, ": global_worst must have ", d,
           " elements");
  const size_t un = static_cast<size_t>(n);
  MS_CHECK(p.personal_best_utilities.size() == un && p.stagnation.size() == un && p.restart_counts.size() == un &&
               p.evaluation_counts.size() == un,
           where, ": per-particle lists must have ", n, " entries");
  MS_CHECK(p.global_worst_index >= 0 && p.global_worst_index < n, where, ": global worst index out of range");
}

nlohmann::json ModelSwarms::summary(const State& s) const {
  const Particles p = Particles::of(s);
  int64_t restarts = 0;
  for (int64_t r : p.restart_counts) restarts += r;
  return {{"restarts", restarts}};
}

std::string ModelSwarms::progress(const State& s) const {
  const Particles p = Particles::of(s);
  std::ostringstream line;
  line << "worst " << p.global_worst_utility << "  step " << p.step_length;
  return line.str();
}

namespace detail {

AlgorithmEntry model_swarms_algorithm() {
  return {"model_swarms", "particle swarm optimisation over the experts (Feng et al. 2024), the default",
          [](const CommonOptions& common, JsonReader& search) -> std::shared_ptr<const Algorithm> {
            ModelSwarmsOptions o;
            if (search.has("preset")) o = model_swarms_preset(search.get<std::string>("preset"));
            fields().read(search, o);
            return std::make_shared<ModelSwarms>(common, o);
          }};
}

}  // namespace detail
}  // namespace modelswarm::swarm
