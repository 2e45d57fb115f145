#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/json_reader.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/config/task_config.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/report/summary_table.h"
#include "modelswarm/search/search_job.h"
#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::cli {

CommandRunner add_search_command(CLI::App& app) {
  struct Params {
    std::string config;
    bool resume = false;
    bool json = false;
    bool validate_only = false;
    bool list_algorithms = false;
    double expect_min_utility = 0;
    uint64_t seed = 0;
    std::string output_dir;
    std::string search;
  };
  auto params = std::make_shared<Params>();
  CLI::App* sub = app.add_subcommand("search", "Run a search (Model Swarms unless search.algorithm says otherwise) as described by a task config");
  sub->add_option("--config", params->config, "Task config (JSON; schema in configs/README.md)")
      ->check(CLI::ExistingFile);
  sub->add_flag("--list-algorithms", params->list_algorithms, "Print the search algorithms (search.algorithm) and exit");
  sub->add_flag("--resume", params->resume, "Continue the run found in the config's output.dir from its checkpoint");
  sub->add_flag("--json", params->json, "Print a JSON summary on stdout at the end");
  sub->add_flag("--validate-only", params->validate_only, "Check the config (and its utility's data) and exit");
  auto* seed = sub->add_option("--seed", params->seed, "Override search.seed (a run per seed: give each its --output-dir)");
  sub->add_option("--output-dir", params->output_dir, "Override output.dir (relative to the current directory)");
  sub->add_option("--search", params->search,
                  "Replace the config's search section by the JSON object in this file (a sweep's trials/NN/search.json)")
      ->check(CLI::ExistingFile);
  auto* expect = sub->add_option("--expect-min-utility", params->expect_min_utility,
                                 "Exit with code 3 when the best dev utility is below this (CI regression runs)");

  return [params, expect, seed]() {
    if (params->list_algorithms) {
      for (const auto& name : swarm::algorithm_names())
        std::cout << name << "  " << swarm::algorithm_summary(name) << "\n";
      return 0;
    }
    if (params->config.empty()) throw ConfigError("search: --config is required (or --list-algorithms)");
    TaskConfig config = TaskConfig::load(params->config);
    // Overrides go into the raw config, which is read again: report.json records it as the run's
    // configuration, and the search algorithm is built from it.
    if (seed->count() > 0 || !params->output_dir.empty() || !params->search.empty()) {
      if (!params->search.empty()) {
        const nlohmann::json search = parse_json_file(params->search);
        if (!search.is_object())
          throw ConfigError(cat(params->search, ": expected a JSON object (a config's search section), got ",
                                json_type_name(search)));
        config.raw["search"] = search;
      }
      if (seed->count() > 0) config.raw["search"]["seed"] = params->seed;
      if (!params->output_dir.empty())
        config.raw["output"]["dir"] = std::filesystem::absolute(params->output_dir).string();
      config = TaskConfig::parse(config.raw, config.source);
    }
    if (params->validate_only) {
      const model::EngineOptions engine{config.device, config.dtype, config.max_batch_tokens};
      utility::make_utility(config.utility, config.source.string(), utility::task_context(config.source, engine));
      search::check_baselines(config);
      std::cout << "config OK: " << params->config << "\n";
      return 0;
    }
    search::SearchFlags flags;
    flags.resume = params->resume;
    if (expect->count() > 0) flags.expect_min_utility = params->expect_min_utility;
    auto result = search::run_search(config, flags);
    if (!result.writer) return result.exit_code;  // rank 0 prints the summary
    if (params->json) {
      nlohmann::json summary = {{"best", result.report["best"]},
                                {"experts", result.report["experts"]},
                                {"uniform_average", result.report["uniform_average"]},
                                {"baselines", result.report["baselines"]},
                                {"swarm_best", result.report["swarm_best"]},
                                {"warnings", result.report["warnings"]},
                                {"improvement", result.report["improvement"]},
                                {"iterations", result.report["iterations"]},
                                {"stopped_because", result.report["stopped_because"]},
                                {"wall_time_s", result.report["wall_time_s"]},
                                {"run_dir", config.output_dir.string()},
                                {"exit_code", result.exit_code}};
      std::cout << summary.dump() << "\n";
    } else {
      std::cout << report::summary_table(result.report);
      std::cout << "best adapter: " << (config.output_dir / "best").string() << "\n"
                << "report: " << (config.output_dir / "report.html").string() << "\n";
    }
    return result.exit_code;
  };
}

}  // namespace modelswarm::cli
