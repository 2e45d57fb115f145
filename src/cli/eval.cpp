// `modelswarm eval`: scores the base model and each expert of a task config (or the adapter
// directories given with --adapter) with the config's utility, on its dev and test splits.
// All adapters are rows of one particle tensor, so they are scored in shared forward passes.
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "modelswarm/common/device.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/config/task_config.h"
#include "modelswarm/dist/world.h"
#include "modelswarm/formats/hf_cache.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/swarm/sharded_problem.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::cli {
namespace fs = std::filesystem;

namespace {

struct EvalParams {
  std::string config;
  std::vector<std::string> adapters;
  std::string split = "both";
  bool json = false;
  bool skip_base = false;
};

struct Row {
  std::string name;
  std::string path;  // empty for the base model
  std::map<std::string, utility::Scores> by_split;  // "dev" / "test" -> scores of this row (P = 1 slice)
};

utility::Scores slice(const utility::Scores& s, size_t p) {
  utility::Scores out;
  out.utility = {s.utility.at(p)};
  for (const auto& [name, values] : s.metrics) out.metrics[name] = {values.at(p)};
  return out;
}

std::string fixed(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", v);
  return buffer;
}

void print_table(const utility::UtilityInfo& info, const std::vector<Row>& rows, const std::vector<std::string>& splits) {
  std::cout << "utility: " << info.description << " (" << info.dev_examples << " dev, ";
  if (info.validation_examples > 0) std::cout << info.validation_examples << " validation, ";
  std::cout << info.test_examples << " test examples)\n";
  size_t width = 5;
  for (const auto& r : rows) width = std::max(width, r.name.size());
  std::cout << std::string(width, ' ');
  for (const auto& s : splits) {
    const std::string head = s + " " + info.metric;
    std::cout << "  " << std::string(head.size() < 10 ? 10 - head.size() : 0, ' ') << head;
  }
  std::cout << "\n";
  for (const auto& r : rows) {
    std::cout << r.name << std::string(width - r.name.size(), ' ');
    for (const auto& s : splits) {
      const std::string head = s + " " + info.metric;
      auto it = r.by_split.find(s);
      const std::string cell = it == r.by_split.end() ? "-" : fixed(it->second.utility[0]);
      std::cout << "  " << std::string(std::max<size_t>(head.size(), 10) - cell.size(), ' ') << cell;
    }
    std::cout << "\n";
  }
}

// Time spent scoring every model on one split, for the throughput line and --json.
struct SplitTiming {
  std::string split;
  int64_t examples = 0;
  int64_t models = 0;
  double seconds = 0;
  // Examples scored per second per particle (model): examples × models / seconds.
  double examples_per_second() const { return seconds > 0 ? static_cast<double>(examples * models) / seconds : 0; }
};

void print_timing(const std::vector<SplitTiming>& timings) {
  for (const auto& t : timings)
    std::cout << t.split << ": " << t.models << " models x " << t.examples << " examples scored in "
              << fixed(t.seconds) << " s (" << fixed(t.examples_per_second()) << " examples/s per particle)\n";
}

nlohmann::json to_json(const utility::UtilityInfo& info, const std::vector<Row>& rows,
                       const std::vector<SplitTiming>& timings, int64_t tokens, double seconds) {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json m = {{"name", r.name}, {"path", r.path.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.path)}};
    for (const auto& [split, s] : r.by_split) {
      nlohmann::json metrics = nlohmann::json::object();
      for (const auto& [name, values] : s.metrics) metrics[name] = values[0];
      m[split] = {{"utility", s.utility[0]}, {"metrics", metrics}};
    }
    models.push_back(m);
  }
  nlohmann::json scoring = nlohmann::json::object();
  for (const auto& t : timings)
    scoring[t.split] = {{"seconds", t.seconds}, {"examples", t.examples}, {"models", t.models},
                        {"examples_per_second_per_particle", t.examples_per_second()}};
  return {{"utility",
           {{"type", info.type},
            {"metric", info.metric},
            {"description", info.description},
            {"dev_examples", info.dev_examples},
            {"validation_examples", info.validation_examples},
            {"test_examples", info.test_examples}}},
          {"models", models},
          {"scoring", scoring},
          {"tokens_processed", tokens},
          {"seconds", seconds}};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The utility and the engine on one device (`device` as a list: one per device).
struct Scorer {
  std::unique_ptr<utility::Utility> utility;
  std::unique_ptr<model::Evaluator> evaluator;
  std::unique_ptr<utility::TokenEncoder> encoder;
};

model::EngineOptions engine_on(const TaskConfig& config, const std::string& device) {
  return {device, config.dtype, config.max_batch_tokens};
}

// The utility first: its config and data are checked before any adapter or model is read.
Scorer utility_on(const TaskConfig& config, const std::string& device) {
  Scorer s;
  s.utility = utility::make_utility(config.utility, config.source.string(),
                                    utility::task_context(config.source, engine_on(config, device)));
  return s;
}

void load_engine(Scorer& s, const TaskConfig& config, const lora::ExpertPool& pool, const std::string& device) {
  s.evaluator = model::load_evaluator(config.base_model, &pool.layout, engine_on(config, device));
  s.encoder = utility::tokenizer_encoder(*s.evaluator);
}

// Each adapter's scores on a split: the adapters in contiguous shares, one per device, scored
// concurrently (a row's score does not depend on the device that took it).
std::vector<utility::Scores> score_adapters(std::vector<Scorer>& scorers, const at::Tensor& weights,
                                            utility::Split split) {
  const std::vector<int64_t> counts = swarm::split_rows(weights.size(0), std::vector<double>(scorers.size(), 0.0));
  std::vector<utility::Scores> per_device(scorers.size());
  swarm::for_each_share(counts, [&](size_t d, int64_t begin, int64_t count) {
    Scorer& s = scorers[d];
    per_device[d] = s.utility->score(*s.evaluator, *s.encoder, weights.narrow(0, begin, count), split);
  });
  std::vector<utility::Scores> out;
  for (size_t d = 0; d < scorers.size(); ++d)
    for (int64_t i = 0; i < counts[d]; ++i) out.push_back(slice(per_device[d], static_cast<size_t>(i)));
  return out;
}

int run_eval(const EvalParams& params) {
  const auto start = std::chrono::steady_clock::now();
  const TaskConfig config = TaskConfig::load(params.config);
  if (dist::World::from_environment().distributed())
    throw ConfigError("eval runs in one process (WORLD_SIZE > 1 here): give `device` a list to use several devices");
  const std::vector<std::string> devices = expand_devices(config.devices);
  std::vector<Scorer> scorers;
  scorers.push_back(utility_on(config, devices.front()));

  std::vector<fs::path> dirs;
  if (params.adapters.empty()) dirs = config.experts;
  else for (const auto& a : params.adapters) dirs.push_back(hf::resolve_path(a));
  const lora::ExpertPool pool = lora::ExpertPool::load(dirs);
  for (size_t d = 1; d < devices.size(); ++d) scorers.push_back(utility_on(config, devices[d]));
  for (size_t d = 0; d < devices.size(); ++d) load_engine(scorers[d], config, pool, devices[d]);
  utility::Utility* utility = scorers.front().utility.get();
  model::Evaluator* evaluator = scorers.front().evaluator.get();
  utility::TokenEncoder* encoder = scorers.front().encoder.get();
  const utility::UtilityInfo info = utility->info();
  if (scorers.size() > 1) log::info(cat("eval: the adapters are split over ", scorers.size(), " devices"));

  std::vector<Row> rows;
  if (!params.skip_base) rows.push_back({"base", "", {}});
  for (size_t i = 0; i < dirs.size(); ++i) rows.push_back({hf::display_name(dirs[i]), dirs[i].string(), {}});

  std::vector<std::string> splits;
  std::vector<SplitTiming> timings;
  for (const utility::Split split : {utility::Split::kDev, utility::Split::kValidation, utility::Split::kTest}) {
    const std::string name = utility::split_name(split);
    if (params.split != "both" && params.split != name) continue;
    if (split == utility::Split::kValidation && info.validation_examples == 0 && params.split == "both") continue;
    splits.push_back(name);
  }
  for (const auto& name : splits) {
    const utility::Split split = name == "dev"          ? utility::Split::kDev
                                 : name == "validation" ? utility::Split::kValidation
                                                        : utility::Split::kTest;
    if (info.examples(split) == 0) {
      log::warn(cat("eval: the ", name, " split is empty; skipped"));
      continue;
    }
    log::info(cat("eval: scoring ", rows.size(), " models on ", name));
    const auto split_start = std::chrono::steady_clock::now();
    size_t row = 0;
    if (!params.skip_base) rows[row++].by_split[name] = utility->score(*evaluator, *encoder, at::Tensor(), split);
    const std::vector<utility::Scores> experts = score_adapters(scorers, pool.weights, split);
    for (size_t i = 0; i < dirs.size(); ++i) rows[row++].by_split[name] = experts[i];
    timings.push_back({name, info.examples(split),
                       static_cast<int64_t>(rows.size()), seconds_since(split_start)});
  }
  const double seconds = seconds_since(start);
  int64_t tokens = 0;
  for (const auto& s : scorers) tokens += s.evaluator->tokens_processed();
  if (params.json) {
    std::cout << to_json(info, rows, timings, tokens, seconds).dump(2) << "\n";
  } else {
    print_table(info, rows, splits);
    print_timing(timings);
  }
  log::info(cat("eval: ", tokens, " tokens in ", fixed(seconds), " s"));
  return 0;
}

}  // namespace

CommandRunner add_eval_command(CLI::App& app) {
  auto params = std::make_shared<EvalParams>();
  CLI::App* sub = app.add_subcommand("eval", "Score the base model and experts (or given adapters) with a config's utility");
  sub->add_option("--config", params->config, "Task config (JSON; schema in configs/README.md)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--adapter", params->adapters,
                  "PEFT adapter directory (or org/name[@revision][/subfolder] from the Hugging Face cache) to score "
                  "instead of the config's experts (repeatable)");
  sub->add_option("--split", params->split, "dev, validation, test, or both (every split the data has)")
      ->check(CLI::IsMember({"dev", "validation", "test", "both"}))
      ->capture_default_str();
  sub->add_flag("--no-base", params->skip_base, "Do not score the base model");
  sub->add_flag("--json", params->json, "Print the scores as JSON on stdout");
  return [params]() { return run_eval(*params); };
}

}  // namespace modelswarm::cli
