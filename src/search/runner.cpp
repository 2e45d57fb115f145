#include "modelswarm/search/runner.h"

#include <ATen/ATen.h>

#include <optional>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/search/history.h"
#include "modelswarm/search/run_lock.h"
#include "modelswarm/search/stop_signal.h"
#include "modelswarm/swarm/checkpoint.h"
#include "modelswarm/swarm/swarm.h"

namespace modelswarm::search {
using nlohmann::json;

namespace {

// Options that may change on resume without changing the search so far.
bool may_change_on_resume(const std::string& key) { return key == "max_iterations" || key == "patience"; }

void check_resumable(const swarm::Options& saved, const swarm::Options& now, const std::string& where) {
  const json a = swarm::to_json(saved);
  const json b = swarm::to_json(now);
  for (const auto& [key, value] : a.items()) {
    if (may_change_on_resume(key) || b.at(key) == value) continue;
    throw ConfigError(cat("search.", key, ": ", b.at(key).dump(), " differs from the run being resumed in ", where,
                          " (", value.dump(), "); resume with the original value or use another output.dir"));
  }
}

}  // namespace

Runner::Runner(swarm::Options options, swarm::Problem& problem, RunSettings settings)
    : options_(options), problem_(&problem), settings_(std::move(settings)) {
  options_.validate();
}

RunResult Runner::run(const at::Tensor& initial, const IterationCallback& on_iteration) {
  std::optional<RunLock> lock;
  if (settings_.take_lock) lock.emplace(RunLock::acquire(settings_.run_dir));
  const swarm::Swarm swarm(options_, *problem_);
  const auto dir = checkpoint_dir();
  RunResult result;
  swarm::State& state = result.state;
  result.metadata = settings_.metadata;

  auto finish_iteration = [&](bool first) {
    if (on_iteration) on_iteration(state);
    swarm::save_checkpoint(dir, state, options_, result.metadata);
    if (first) rewrite_history(history_file(), state.history);
    else append_history(history_file(), state.history.back());
  };

  if (settings_.resume) {
    if (!swarm::checkpoint_exists(dir))
      throw ConfigError(cat(settings_.run_dir.string(),
                            ": nothing to resume (no checkpoint/state.json); run the search without --resume"));
    swarm::Checkpoint checkpoint = swarm::load_checkpoint(dir, initial.device());
    check_resumable(checkpoint.options, options_, dir.string());
    MS_CHECK(checkpoint.state.dimension() == initial.size(1), dir.string(), ": the checkpoint's particles have ",
             checkpoint.state.dimension(), " numbers but this search's have ", initial.size(1),
             " (different experts?)");
    state = std::move(checkpoint.state);
    result.metadata = checkpoint.metadata;
    swarm.update_stop_reason(state);
    // The checkpoint's history is the truth: drop lines a crash left past it, or a torn line.
    rewrite_history(history_file(), state.history);
    log::info(cat("resuming ", settings_.run_dir.string(), " after iteration ", state.iteration, " (best utility ",
                  state.global_best_utility, ")"));
  } else {
    if (swarm::checkpoint_exists(dir))
      throw ConfigError(cat(settings_.run_dir.string(),
                            ": already holds a search (checkpoint/); pass --resume to continue it, or choose another "
                            "output.dir"));
    state = swarm.initialise(initial);
    finish_iteration(/*first=*/true);
  }

  while (!state.finished()) {
    if (stop_requested()) {
      result.outcome = RunOutcome::kInterrupted;
      log::warn(cat("interrupted after iteration ", state.iteration, "; the checkpoint in ", dir.string(),
                    " is complete. Resume with: ",
                    settings_.resume_command.empty() ? std::string("the same command plus --resume")
                                                     : settings_.resume_command));
      return result;
    }
    swarm.step(state);
    finish_iteration(/*first=*/false);
  }
  log::info(cat("search finished after ", state.iteration, " iterations (", swarm::to_string(state.stop_reason),
                "), best utility ", state.global_best_utility, " from particle ", state.global_best_index));
  return result;
}

}  // namespace modelswarm::search
