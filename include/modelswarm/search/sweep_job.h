// `modelswarm sweep`: many searches (trials, sweep_plan.h) over one loaded model, run together.
// Each sweep iteration scores the union of every running trial's rows in the engine's batched
// passes (rows several trials share, such as the experts of iteration 0, are scored once); each
// trial then takes its own utilities, so a trial runs exactly as `modelswarm search` runs it with
// the trial's `search` object. Trials stop on their own rules, by successive halving, or when
// the sweep's evaluation budget would be exceeded. RUN_DIR (output.dir) holds
//
//   sweep.jsonl           one line per trial: its options, status, and its returned adapter
//   sweep.json, sweep.html  the summary and the ranking page
//   best/ top_k/ report.json report.html history.jsonl   the winning trial's, as `search` writes them
//   trials/NN/search.json the trial's `search` object (`search --search` reruns it); history.jsonl
//   checkpoint/           the whole sweep, after every iteration: --resume continues it exactly
#pragma once

#include <nlohmann/json.hpp>

#include "modelswarm/config/task_config.h"

namespace modelswarm::search {

struct SweepFlags {
  bool resume = false;
  bool progress_line = true;  // live line on a terminal (else log lines)
};

/// Runs (or resumes) the sweep of config.sweep; returns sweep.json's summary (null on the ranks
/// of a distributed run other than 0, which write nothing). Throws Error /
/// ConfigError on bad input; on SIGINT/SIGTERM it stops after a checkpoint and throws Error
/// saying how to resume.
nlohmann::json run_sweep(const TaskConfig& config, const SweepFlags& flags);

}  // namespace modelswarm::search
