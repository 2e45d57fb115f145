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

// `search` holds the task's own keys (space, include_uniform_average) beside the algorithm's,
// which the algorithm registry reads and checks (swarm/algorithm.h).
std::shared_ptr<const swarm::Algorithm> read_search(JsonReader r, SearchSpace* space, bool* include_uniform_average) {
  *include_uniform_average = r.get_or<bool>("include_uniform_average", *include_uniform_average);
  const std::string space_name = r.get_or<std::string>("space", "parameters");
  if (space_name == "parameters") *space = SearchSpace::kParameters;
  else if (space_name == "coefficients") *space = SearchSpace::kCoefficients;
  else r.fail("space", cat("must be \"parameters\" or \"coefficients\", got \"", space_name, "\""));
  auto algorithm = swarm::read_algorithm(r);
  swarm::reject_unknown_search_keys(r, *algorithm);
  return algorithm;
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
  // One device, or a list of them: one replica of the model on each, "cuda:all" for every GPU.
  if (r.has("device") && r.value().at("device").is_array()) {
    c.devices = r.get<std::vector<std::string>>("device");
    if (c.devices.empty()) r.fail("device", "an empty list; name at least one device");
  } else {
    c.devices = {r.get_or<std::string>("device", c.device)};
  }
  c.device = c.devices.front();
  c.dtype = r.get_or<std::string>("dtype", c.dtype);

  {
    JsonReader u = r.object("utility");
    u.get<std::string>("type");  // the registry validates the rest
    c.utility = u.value();
  }

  c.algorithm = r.has("search") ? read_search(r.object("search"), &c.space, &c.include_uniform_average)
                                : swarm::algorithm_from_json(nlohmann::json::object(), source.string());
  if (r.has("baselines")) c.baselines = read_baselines(r.object("baselines"));
  if (c.algorithm->common().swarm_size < static_cast<int64_t>(c.experts.size()))
    r.fail("search.swarm_size", cat("must be at least the number of experts (", c.experts.size(),
                                    "), got ", c.algorithm->common().swarm_size));

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
    c.rank_timeout_s =
        e.in_range<int64_t>("rank_timeout_s", e.get_or<int64_t>("rank_timeout_s", c.rank_timeout_s), 1, 86400);
    e.reject_unknown_keys();
  }
  // `modelswarm sweep` reads and checks it (search/sweep_plan.h); other commands ignore it.
  if (r.has("sweep")) c.sweep = r.object("sweep").value();
  r.reject_unknown_keys();
  return c;
}

}  // namespace modelswarm
