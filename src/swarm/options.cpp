#include "modelswarm/swarm/options.h"

#include "modelswarm/common/error.h"

namespace modelswarm::swarm {

namespace {
void require(bool ok, const char* field, const std::string& rule, double value) {
  if (!ok) throw ConfigError(cat("search.", field, ": ", rule, ", got ", value));
}
}  // namespace

void Options::validate() const {
  require(swarm_size >= 2, "swarm_size", "must be at least 2", static_cast<double>(swarm_size));
  require(max_iterations >= 0, "max_iterations", "must not be negative", static_cast<double>(max_iterations));
  require(inertia >= 0, "inertia", "must not be negative", inertia);
  require(cognitive >= 0, "cognitive", "must not be negative", cognitive);
  require(social >= 0, "social", "must not be negative", social);
  require(repel >= 0, "repel", "must not be negative", repel);
  require(inertia + cognitive + social + repel > 0, "inertia",
          "inertia + cognitive + social + repel must be positive", inertia + cognitive + social + repel);
  require(step_length > 0, "step_length", "must be positive", step_length);
  require(step_decay > 0 && step_decay <= 1, "step_decay", "must be in (0, 1]", step_decay);
  require(min_step_length >= 0, "min_step_length", "must not be negative", min_step_length);
  require(patience >= 1, "patience", "must be at least 1", static_cast<double>(patience));
  require(restart_patience >= 1, "restart_patience", "must be at least 1", static_cast<double>(restart_patience));
  require(crossover_max >= crossover_min, "crossover_weight_range",
          "the upper bound must not be below the lower bound", crossover_max);
  require(drop_iteration_probability >= 0 && drop_iteration_probability < 1,
          "drop_iteration_probability", "must be in [0, 1)", drop_iteration_probability);
  require(drop_particle_probability >= 0 && drop_particle_probability < 1,
          "drop_particle_probability", "must be in [0, 1)", drop_particle_probability);
}

nlohmann::json to_json(const Options& o) {
  return {{"swarm_size", o.swarm_size},
          {"max_iterations", o.max_iterations},
          {"inertia", o.inertia},
          {"cognitive", o.cognitive},
          {"social", o.social},
          {"repel", o.repel},
          {"step_length", o.step_length},
          {"step_decay", o.step_decay},
          {"min_step_length", o.min_step_length},
          {"patience", o.patience},
          {"restart_patience", o.restart_patience},
          {"weight_randomness", o.weight_randomness},
          {"crossover_weight_range", {o.crossover_min, o.crossover_max}},
          {"initial_velocity", to_string(o.initial_velocity)},
          {"drop_iteration_probability", o.drop_iteration_probability},
          {"drop_particle_probability", o.drop_particle_probability},
          {"seed", o.seed}};
}

Options options_from_json(const nlohmann::json& j) {
  try {
    Options o;
    o.swarm_size = j.at("swarm_size").get<int64_t>();
    o.max_iterations = j.at("max_iterations").get<int64_t>();
    o.inertia = j.at("inertia").get<double>();
    o.cognitive = j.at("cognitive").get<double>();
    o.social = j.at("social").get<double>();
    o.repel = j.at("repel").get<double>();
    o.step_length = j.at("step_length").get<double>();
    o.step_decay = j.at("step_decay").get<double>();
    o.min_step_length = j.at("min_step_length").get<double>();
    o.patience = j.at("patience").get<int64_t>();
    o.restart_patience = j.at("restart_patience").get<int64_t>();
    o.weight_randomness = j.at("weight_randomness").get<bool>();
    o.crossover_min = j.at("crossover_weight_range").at(0).get<double>();
    o.crossover_max = j.at("crossover_weight_range").at(1).get<double>();
    o.initial_velocity = parse_initial_velocity(j.at("initial_velocity").get<std::string>());
    o.drop_iteration_probability = j.at("drop_iteration_probability").get<double>();
    o.drop_particle_probability = j.at("drop_particle_probability").get<double>();
    o.seed = j.at("seed").get<uint64_t>();
    return o;
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat("search options: ", e.what()));
  }
}

Options preset_options(const std::string& name) {
  Options o;
  if (name == "default") return o;
  if (name == "reference") {
    o.inertia = 0.4;
    o.cognitive = 0.3;
    o.social = 0.3;
    o.repel = 0.3;
    o.step_length = 1.0;
    o.step_decay = 0.95;
    o.min_step_length = 0.1;
    o.patience = 10;
    o.restart_patience = 5;
    return o;
  }
  std::string names;
  for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
  throw ConfigError(cat("search.preset: must be one of ", names, ", got \"", name, "\""));
}

std::vector<std::string> preset_names() { return {"default", "reference"}; }

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

}  // namespace modelswarm::swarm
