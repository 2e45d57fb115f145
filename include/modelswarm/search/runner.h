// Drives a search (any algorithm) in a run directory: lock, initialise or resume, iterate, checkpoint
// after every iteration, keep history.jsonl, and stop cleanly on SIGINT/SIGTERM.
//
//   RUN_DIR/.lock             flock of the running search (run_lock.h)
//   RUN_DIR/checkpoint/       the latest complete state (swarm/checkpoint.h)
//   RUN_DIR/history.jsonl     one line per iteration (history.h)
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/swarm/problem.h"
#include "modelswarm/swarm/state.h"

namespace modelswarm::search {

struct RunSettings {
  std::filesystem::path run_dir;
  bool resume = false;           // continue RUN_DIR's checkpoint instead of starting afresh
  std::string resume_command;    // shown when interrupted: "modelswarm search --config t.json --resume"
  nlohmann::json metadata = nlohmann::json::object();  // saved with every checkpoint
  bool take_lock = true;         // false: the caller already holds RUN_DIR's RunLock
  bool writer = true;            // false: another rank of a distributed run writes RUN_DIR; this one reads
  /// Distributed runs: turns this process's stop request into the one every rank acts on (any
  /// rank's request stops them all after the same iteration). Unset: the request alone.
  std::function<bool(bool requested, int64_t iteration)> agree_to_stop;
};

enum class RunOutcome { kFinished, kInterrupted };

struct RunResult {
  swarm::State state;
  RunOutcome outcome = RunOutcome::kFinished;
  nlohmann::json metadata;  // the checkpoint's metadata (the resumed run's, when resuming)
};

/// Called after the initial evaluation and after every iteration, before the checkpoint is
/// written: it may log progress and add fields to state.history.back().extra (e.g. tokens).
using IterationCallback = std::function<void(swarm::State& state)>;

class Runner {
 public:
  Runner(const swarm::Algorithm& algorithm, swarm::Problem& problem, RunSettings settings);

  /// Runs to the end, or until a stop is requested (stop_signal.h). `initial` (n, D) gives the
  /// starting particles and the device; when resuming only its dimension and device are used.
  /// Throws ConfigError when starting over an existing run without resume, resuming where no
  /// checkpoint exists, or resuming with another algorithm or options that change the search
  /// (max_iterations and patience may differ: a finished run can be extended).
  RunResult run(const at::Tensor& initial, const IterationCallback& on_iteration = nullptr);

  std::filesystem::path checkpoint_dir() const { return settings_.run_dir / "checkpoint"; }
  std::filesystem::path history_file() const { return settings_.run_dir / "history.jsonl"; }

 private:
  const swarm::Algorithm* algorithm_;
  swarm::Problem* problem_;
  RunSettings settings_;
};

}  // namespace modelswarm::search
