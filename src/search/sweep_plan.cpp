#include "modelswarm/search/sweep_plan.h"

#include <cmath>
#include <set>

#include "modelswarm/common/error.h"
#include "modelswarm/common/json_reader.h"
#include "modelswarm/common/strings.h"
#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/swarm/rng.h"

namespace modelswarm::search {
using nlohmann::json;

namespace {

constexpr const char* kDefaultAlgorithm = "model_swarms";
// `search` keys the task reads beside the algorithm's (task_config.h).
const std::set<std::string> kTaskKeys = {"include_uniform_average", "space"};
constexpr int64_t kMaxTrials = 10000;

VariedKey read_varied_key(JsonReader& vary, const std::string& key) {
  VariedKey v;
  v.key = key;
  const json& value = vary.value().at(key);
  if (key == "space")
    vary.fail(key, "cannot vary: a sweep's trials share one search space (run one sweep per space)");
  if (value.is_array()) {
    if (value.empty()) vary.fail(key, "a choice needs at least one value");
    for (const auto& c : value) {
      if (!(c.is_number() || c.is_string() || c.is_boolean()))
        vary.fail(key, cat("a choice's values must be numbers, strings or booleans, got ", c.dump()));
      v.choices.push_back(c);
    }
    return v;
  }
  if (!value.is_object())
    vary.fail(key, cat("expected a list of values (a choice) or {\"min\", \"max\"} (a range), got ", value.dump()));
  JsonReader range = vary.object(key);
  v.is_range = true;
  v.min = range.get<double>("min");
  v.max = range.get<double>("max");
  v.log = range.get_or<bool>("log", false);
  v.integer = range.get_or<bool>("integer", false);
  range.reject_unknown_keys();
  if (!(v.min <= v.max)) range.fail("max", cat("must be at least min (", v.min, "), got ", v.max));
  if (v.log && !(v.min > 0)) range.fail("min", cat("must be positive for a log range, got ", v.min));
  if (v.integer && (v.min != std::floor(v.min) || v.max != std::floor(v.max)))
    range.fail("min", "an integer range needs whole numbers for min and max");
  return v;
}

json draw(const VariedKey& v, swarm::Rng& rng) {
  if (!v.is_range) return v.choices[rng.index(static_cast<int64_t>(v.choices.size()))];
  if (v.integer && !v.log) return static_cast<int64_t>(v.min) + rng.index(static_cast<int64_t>(v.max - v.min) + 1);
  const double x = v.log ? std::exp(rng.uniform(std::log(v.min), std::log(v.max))) : rng.uniform(v.min, v.max);
  if (v.integer) return static_cast<int64_t>(std::min(v.max, std::max(v.min, std::round(x))));
  return x;
}

// The search keys an algorithm reads: its defaults as to_json writes them.
std::set<std::string> keys_read_by(const std::string& algorithm, const std::string& source) {
  std::set<std::string> keys = kTaskKeys;
  const json defaults = swarm::to_json(*swarm::algorithm_from_json({{"algorithm", algorithm}}, source));
  for (const auto& item : defaults.items()) keys.insert(item.key());
  return keys;
}

// The trial's `search` object: the config's, with the varied values; when the trial runs another
// algorithm than the config's, only the keys that algorithm reads.
json trial_search(const json& base, const json& values, const std::string& source, json* applied) {
  const std::string base_algorithm = base.value("algorithm", std::string(kDefaultAlgorithm));
  const std::string algorithm = values.value("algorithm", base_algorithm);
  const bool other_algorithm = algorithm != base_algorithm;
  const bool algorithm_varies = values.contains("algorithm");
  const std::set<std::string> reads = keys_read_by(algorithm, source);
  json search = json::object();
  for (const auto& [key, value] : base.items())
    if (!other_algorithm || reads.count(key)) search[key] = value;
  *applied = json::object();
  for (const auto& [key, value] : values.items()) {
    if (algorithm_varies && !reads.count(key)) continue;
    search[key] = value;
    (*applied)[key] = value;
  }
  if (algorithm_varies) search["algorithm"] = algorithm;
  return search;
}

std::vector<json> grid_values(const std::vector<VariedKey>& keys) {
  std::vector<json> out = {json::object()};
  for (const auto& k : keys) {
    std::vector<json> next;
    for (const auto& partial : out)
      for (const auto& c : k.choices) {
        json v = partial;
        v[k.key] = c;
        next.push_back(v);
      }
    out = std::move(next);
    if (static_cast<int64_t>(out.size()) > kMaxTrials) break;
  }
  return out;
}

}  // namespace

bool EarlyStopping::is_rung(int64_t iteration) const {
  return after > 0 && iteration >= after && (iteration - after) % every == 0;
}

json SweepPlan::varied_summary() const {
  json out = json::object();
  for (const auto& k : keys) out[k.key] = {{"kind", k.is_range ? "range" : "choice"}, {"log", k.log}};
  return out;
}

SweepPlan plan_sweep(const TaskConfig& config) {
  const std::string source = config.source.string();
  if (config.sweep.is_null())
    throw ConfigError(cat(source, ": sweep: missing; `modelswarm sweep` needs a sweep section (configs/README.md)"));
  SweepPlan plan;
  plan.raw = config.sweep;
  JsonReader r(config.sweep, source, "sweep");

  JsonReader vary = r.object("vary");
  for (const auto& item : config.sweep.at("vary").items()) plan.keys.push_back(read_varied_key(vary, item.key()));
  if (plan.keys.empty()) r.fail("vary", "names no key to vary");

  bool all_choices = true;
  for (const auto& k : plan.keys) all_choices = all_choices && !k.is_range;
  const bool trials_given = r.has("trials");
  plan.mode = r.get_or<std::string>("mode", all_choices && !trials_given ? "grid" : "random");
  if (plan.mode != "grid" && plan.mode != "random") r.fail("mode", cat("must be \"grid\" or \"random\", got \"", plan.mode, "\""));
  plan.seed = r.get_or<uint64_t>("seed", 0);
  plan.max_evaluations = r.in_range<int64_t>("max_evaluations", r.get_or<int64_t>("max_evaluations", 0), 0,
                                             int64_t(1) << 50);
  if (r.has("early_stopping")) {
    JsonReader e = r.object("early_stopping");
    plan.early_stopping.after = e.in_range<int64_t>("after", e.get<int64_t>("after"), 1, 1 << 30);
    plan.early_stopping.every = e.in_range<int64_t>("every", e.get_or<int64_t>("every", 5), 1, 1 << 30);
    plan.early_stopping.keep = e.get_or<double>("keep", 0.5);
    if (!(plan.early_stopping.keep > 0 && plan.early_stopping.keep < 1))
      e.fail("keep", cat("must be in (0, 1), got ", plan.early_stopping.keep));
    e.reject_unknown_keys();
  }
  const std::string selection = r.get_or<std::string>("selection", "auto");
  if (selection == "auto") plan.selection = SweepSelection::kAuto;
  else if (selection == "validation") plan.selection = SweepSelection::kValidation;
  else if (selection == "dev") plan.selection = SweepSelection::kDev;
  else r.fail("selection", cat("must be \"auto\", \"validation\" or \"dev\", got \"", selection, "\""));

  std::vector<json> values;
  if (plan.mode == "grid") {
    for (const auto& k : plan.keys)
      if (k.is_range) vary.fail(k.key, "a range needs \"mode\": \"random\" (a grid takes lists of values)");
    values = grid_values(plan.keys);
    if (static_cast<int64_t>(values.size()) > kMaxTrials)
      r.fail("vary", cat("the grid has over ", kMaxTrials, " trials"));
    if (trials_given && r.get<int64_t>("trials") != static_cast<int64_t>(values.size()))
      r.fail("trials", cat("a grid of these keys has ", values.size(), " trials, got ", r.get<int64_t>("trials"),
                           " (leave trials out, or use \"mode\": \"random\")"));
  } else {
    if (!trials_given) {
      std::string ranges;
      for (const auto& k : plan.keys)
        if (k.is_range) ranges += cat(ranges.empty() ? "" : ", ", "sweep.vary.", k.key);
      r.fail("trials", cat("required in random mode: how many draws", ranges.empty() ? "" : cat(" (", ranges, " is a range)")));
    }
    const int64_t trials = r.in_range<int64_t>("trials", r.get<int64_t>("trials"), 1, kMaxTrials);
    swarm::Rng rng(plan.seed);
    for (int64_t t = 0; t < trials; ++t) {
      json v = json::object();
      for (const auto& k : plan.keys) v[k.key] = draw(k, rng);
      values.push_back(v);
    }
  }
  plan.include_base = r.get_or<bool>("include_base", false);
  if (plan.include_base) values.insert(values.begin(), json::object());
  plan.replicates = r.in_range<int64_t>("replicates", r.get_or<int64_t>("replicates", 1), 1, 1000);
  if (plan.replicates > 1 && config.sweep.at("vary").contains("seed"))
    vary.fail("seed", "cannot vary with replicates: each configuration runs with seeds search.seed, search.seed + 1, ...");
  if (static_cast<int64_t>(values.size()) * plan.replicates > kMaxTrials)
    r.fail("replicates", cat("the sweep would have over ", kMaxTrials, " trials"));
  r.reject_unknown_keys();

  const json base = config.raw.value("search", json::object());
  const uint64_t base_seed = config.algorithm->common().seed;
  int64_t first_rows = 0;
  for (size_t c = 0; c < values.size(); ++c) {
    for (int64_t replicate = 0; replicate < plan.replicates; ++replicate) {
      Trial trial;
      trial.id = static_cast<int64_t>(plan.trials.size());
      trial.configuration = static_cast<int64_t>(c);
      trial.replicate = replicate;
      try {
        trial.search = trial_search(base, values[c], source, &trial.varied);
        if (plan.replicates > 1) trial.search["seed"] = base_seed + static_cast<uint64_t>(replicate);
        // Checked as `search` will read it: the algorithm's ranges, unknown keys, swarm_size ≥ experts.
        json raw = config.raw;
        raw["search"] = trial.search;
        raw.erase("sweep");
        first_rows += TaskConfig::parse(raw, config.source).algorithm->common().swarm_size;
      } catch (const ConfigError& e) {
        throw ConfigError(cat("sweep trial ", trial.id, " (", values[c].dump(), "): ", e.what()));
      }
      plan.trials.push_back(std::move(trial));
    }
  }
  if (plan.max_evaluations > 0 && first_rows > plan.max_evaluations)
    r.fail("max_evaluations", cat("the first iteration alone scores up to ", first_rows,
                                  " rows (every trial's swarm_size), got ", plan.max_evaluations));
  return plan;
}

TaskConfig trial_config(const TaskConfig& config, const Trial& trial, const std::filesystem::path& output_dir) {
  json raw = config.raw;
  raw["search"] = trial.search;
  raw.erase("sweep");
  raw["output"]["dir"] = std::filesystem::absolute(output_dir).string();
  return TaskConfig::parse(raw, config.source);
}

}  // namespace modelswarm::search
