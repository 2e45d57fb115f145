#include "modelswarm/config/task_config.h"

#include "modelswarm/common/json_reader.h"
#include "modelswarm/formats/hf_cache.h"

namespace modelswarm {
namespace fs = std::filesystem;

namespace {

fs::path resolve(const fs::path& base_dir, const std::string& p) {
  fs::path path(p);
  return path.is_absolute() ? path : (base_dir / path).lexically_normal();
}

swarm::Options read_search(JsonReader r, SearchSpace* space, bool* include_uniform_average) {
  swarm::Options o;
  if (r.has("preset")) {
    try {
      o = swarm::preset_options(r.get<std::string>("preset"));
    } catch (const ConfigError& e) {
      throw ConfigError(cat(r.source(), ": ", e.what()));
    }
  }
  o.swarm_size = r.get_or<int64_t>("swarm_size", o.swarm_size);
  o.max_iterations = r.get_or<int64_t>("max_iterations", o.max_iterations);
  o.inertia = r.get_or<double>("inertia", o.inertia);
  o.cognitive = r.get_or<double>("cognitive", o.cognitive);
  o.social = r.get_or<double>("social", o.social);
  o.repel = r.get_or<double>("repel", o.repel);
  o.step_length = r.get_or<double>("step_length", o.step_length);
  o.step_decay = r.get_or<double>("step_decay", o.step_decay);
  o.min_step_length = r.get_or<double>("min_step_length", o.min_step_length);
  o.patience = r.get_or<int64_t>("patience", o.patience);
  o.restart_patience = r.get_or<int64_t>("restart_patience", o.restart_patience);
  o.weight_randomness = r.get_or<bool>("weight_randomness", o.weight_randomness);
  if (r.has("crossover_weight_range")) {
    auto range = r.get<std::vector<double>>("crossover_weight_range");
    if (range.size() != 2) r.fail("crossover_weight_range", "expected [low, high]");
    o.crossover_min = range[0];
    o.crossover_max = range[1];
  }
  if (r.has("initial_velocity")) {
    try {
      o.initial_velocity = swarm::parse_initial_velocity(r.get<std::string>("initial_velocity"));
    } catch (const ConfigError& e) {
      throw ConfigError(cat(r.source(), ": ", e.what()));
    }
  }
  o.drop_iteration_probability = r.get_or<double>("drop_iteration_probability", o.drop_iteration_probability);
  o.drop_particle_probability = r.get_or<double>("drop_particle_probability", o.drop_particle_probability);
  if (r.has("seed")) o.seed = r.get<uint64_t>("seed");
  *include_uniform_average = r.get_or<bool>("include_uniform_average", *include_uniform_average);
  const std::string space_name = r.get_or<std::string>("space", "parameters");
  if (space_name == "parameters") *space = SearchSpace::kParameters;
  else if (space_name == "coefficients") *space = SearchSpace::kCoefficients;
  else r.fail("space", cat("must be \"parameters\" or \"coefficients\", got \"", space_name, "\""));
  r.reject_unknown_keys();
  try {
    o.validate();
  } catch (const ConfigError& e) {
    throw ConfigError(cat(r.source(), ": ", e.what()));
  }
  return o;
}

BaselineOptions read_baselines(JsonReader r) {
  BaselineOptions b;
  // Method names are checked against lora/merge.h's registry when the search starts.
  b.merges = r.get_or<std::vector<std::string>>("merges", b.merges);
  b.density = r.get_or<double>("density", b.density);
  if (!(b.density > 0 && b.density <= 1)) r.fail("density", cat("must be in (0, 1], got ", b.density));
  b.seed = r.get_or<uint64_t>("seed", b.seed);
  r.reject_unknown_keys();
  return b;
}

}  // namespace

TaskConfig TaskConfig::load(const fs::path& path) {
  return parse(parse_json_file(path.string()), path);
}

TaskConfig TaskConfig::parse(const nlohmann::json& json, const fs::path& source) {
  TaskConfig c;
  c.source = source;
  c.raw = json;
  const fs::path base_dir = source.parent_path().empty() ? fs::path(".") : source.parent_path();
  JsonReader r(json, source.string());

  // Model and adapter directories may also be Hugging Face ids in the local cache (formats/hf_cache.h).
  c.base_model = hf::resolve_path(r.get<std::string>("base_model"), base_dir, r.where("base_model"));
  for (const auto& e : r.get<std::vector<std::string>>("experts"))
    c.experts.push_back(hf::resolve_path(e, base_dir, r.where("experts")));
  if (c.experts.size() < 2) r.fail("experts", cat("needs at least 2 adapter directories, got ", c.experts.size()));
  c.device = r.get_or<std::string>("device", c.device);
  c.dtype = r.get_or<std::string>("dtype", c.dtype);

  {
    JsonReader u = r.object("utility");
    u.get<std::string>("type");  // the registry validates the rest
    c.utility = u.value();
  }

  if (r.has("search")) c.search = read_search(r.object("search"), &c.space, &c.include_uniform_average);
  if (r.has("baselines")) c.baselines = read_baselines(r.object("baselines"));
  if (c.search.swarm_size < static_cast<int64_t>(c.experts.size()))
    r.fail("search.swarm_size", cat("must be at least the number of experts (", c.experts.size(),
                                    "), got ", c.search.swarm_size));

  {
    JsonReader o = r.object("output");
    c.output_dir = resolve(base_dir, o.get<std::string>("dir"));
    c.top_k = o.in_range<int64_t>("top_k", o.get_or<int64_t>("top_k", c.top_k), 1, 1000);
    o.reject_unknown_keys();
  }
  if (r.has("engine")) {
    JsonReader e = r.object("engine");
    c.max_batch_tokens = e.in_range<int64_t>(
        "max_batch_tokens", e.get_or<int64_t>("max_batch_tokens", c.max_batch_tokens), 16, int64_t(1) << 32);
    e.reject_unknown_keys();
  }
  r.reject_unknown_keys();
  return c;
}

}  // namespace modelswarm
