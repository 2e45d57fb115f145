// `modelswarm search`: the Model Swarms job end to end. Loads the base model and the expert
// pool, builds the utility, runs the swarm with a checkpoint after every iteration, and leaves
// in output.dir: best/ and top_k/ (PEFT adapters), history.jsonl, report.json, report.html,
// checkpoint/ and search.log.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>

#include "modelswarm/config/task_config.h"

namespace modelswarm::search {

struct SearchFlags {
  bool resume = false;                       // continue the run in output.dir
  std::optional<double> expect_min_utility;  // exit code 3 when the best dev utility is below
  bool progress_line = true;                 // live line on a terminal (else log lines)
};

struct SearchResult {
  nlohmann::json report;  // what report.json holds
  int exit_code = 0;      // 0, or 3 when expect_min_utility was not met
  bool writer = true;     // false on the ranks of a distributed run other than 0: no report
};

/// Runs (or resumes) the search. Throws Error / ConfigError on bad input; on SIGINT/SIGTERM it
/// stops after writing a checkpoint and throws Error saying how to resume.
SearchResult run_search(const TaskConfig& config, const SearchFlags& flags);

/// Throws ConfigError naming `baselines.merges` when it lists a method lora/merge.h lacks.
void check_baselines(const TaskConfig& config);

}  // namespace modelswarm::search
