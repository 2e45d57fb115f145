#include <iostream>

#include "cli/commands.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/config/task_config.h"

namespace modelswarm::cli {

CommandRunner add_search_command(CLI::App& app) {
  struct Params {
    std::string config;
    bool resume = false;
    bool json = false;
    bool validate_only = false;
  };
  auto params = std::make_shared<Params>();
  CLI::App* sub = app.add_subcommand("search", "Run Model Swarms as described by a task config");
  sub->add_option("--config", params->config, "Task config (JSON; schema in configs/README.md)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_flag("--resume", params->resume, "Continue the run found in the config's output.dir");
  sub->add_flag("--json", params->json, "Print a JSON summary on stdout at the end");
  sub->add_flag("--validate-only", params->validate_only, "Check the config and exit");

  return [params]() {
    TaskConfig config = TaskConfig::load(params->config);
    log::info(cat("config ", params->config, ": base ", config.base_model.string(), ", ",
                  config.experts.size(), " experts, swarm of ", config.search.swarm_size, ", up to ",
                  config.search.max_iterations, " iterations"));
    if (params->validate_only) {
      std::cout << "config OK: " << params->config << "\n";
      return 0;
    }
    throw Error("the search itself is not implemented in this build yet (config is valid)");
  };
}

}  // namespace modelswarm::cli
