#include "modelswarm/search/runner.h"

#include <ATen/ATen.h>

#include <optional>
#include <set>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/search/history.h"
#include "modelswarm/search/run_lock.h"
#include "modelswarm/search/stop_signal.h"
#include "modelswarm/swarm/checkpoint.h"
#include "modelswarm/swarm/optimiser.h"

namespace modelswarm::search {
using nlohmann::json;

namespace {

// Options that may change on resume without changing the search so far.
bool may_change_on_resume(const std::string& key) { return key == "max_iterations" || key == "patience"; }

void check_resumable(const json& saved, const json& now, const std::string& where) {
  std::set<std::string> keys;
  for (const auto* options : {&saved, &now})
    for (const auto& item : options->items()) keys.insert(item.key());
  // The algorithm first: with another algorithm every other difference follows from it.
  std::vector<std::string> order = {"algorithm"};
  for (const auto& key : keys)
    if (key != "algorithm") order.push_back(key);
  for (const auto& key : order) {
    const json before = saved.value(key, json()), after = now.value(key, json());
    if (may_change_on_resume(key) || before == after) continue;
    throw ConfigError(cat("search.", key, ": ", after.is_null() ? "(unset)" : after.dump(),
                          " differs from the run being resumed in ", where, " (",
                          before.is_null() ? "(unset)" : before.dump(),
                          "); resume with the original value or use another output.dir"));
  }
}

}  // namespace

Runner::Runner(const swarm::Algorithm& algorithm, swarm::Problem& problem, RunSettings settings)
    : algorithm_(&algorithm), problem_(&problem), settings_(std::move(settings)) {}

RunResult Runner::run(const at::Tensor& initial, const IterationCallback& on_iteration) {
  std::optional<RunLock> lock;
  if (settings_.take_lock && settings_.writer) lock.emplace(RunLock::acquire(settings_.run_dir));
  const swarm::Optimiser optimiser(*algorithm_, *problem_);
  const json options = swarm::to_json(*algorithm_);
  const auto dir = checkpoint_dir();
  RunResult result;
  swarm::State& state = result.state;
  result.metadata = settings_.metadata;

  auto finish_iteration = [&](bool first) {
    if (on_iteration) on_iteration(state);
    if (!settings_.writer) return;
    swarm::save_checkpoint(dir, state, options, result.metadata);
    if (first) rewrite_history(history_file(), state.history);
    else append_history(history_file(), state.history.back());
  };

  if (settings_.resume) {
    if (!swarm::checkpoint_exists(dir))
      throw ConfigError(cat(settings_.run_dir.string(),
                            ": nothing to resume (no checkpoint/state.json); run the search without --resume"));
    swarm::Checkpoint checkpoint = swarm::load_checkpoint(dir, initial.device());
    check_resumable(checkpoint.options, options, dir.string());
    MS_CHECK(checkpoint.state.dimension() == initial.size(1), dir.string(), ": the checkpoint's particles have ",
             checkpoint.state.dimension(), " numbers but this search's have ", initial.size(1),
             " (different experts?)");
    algorithm_->check(checkpoint.state, (dir / "state.json").string());
    state = std::move(checkpoint.state);
    result.metadata = checkpoint.metadata;
    optimiser.update_stop_reason(state);
    // The checkpoint's history is the truth: drop lines a crash left past it, or a torn line.
    if (settings_.writer) rewrite_history(history_file(), state.history);
    log::info(cat("resuming ", settings_.run_dir.string(), " after iteration ", state.iteration, " (best utility ",
                  state.best_utility, ")"));
  } else {
    if (swarm::checkpoint_exists(dir))
      throw ConfigError(cat(settings_.run_dir.string(),
                            ": already holds a search (checkpoint/); pass --resume to continue it, or choose another "
                            "output.dir"));
    state = optimiser.initialise(initial);
    finish_iteration(/*first=*/true);
  }

  while (!state.finished()) {
    const bool stop = settings_.agree_to_stop ? settings_.agree_to_stop(stop_requested(), state.iteration)
                                              : stop_requested();
    if (stop) {
      result.outcome = RunOutcome::kInterrupted;
      log::warn(cat("interrupted after iteration ", state.iteration, "; the checkpoint in ", dir.string(),
                    " is complete. Resume with: ",
                    settings_.resume_command.empty() ? std::string("the same command plus --resume")
                                                     : settings_.resume_command));
      return result;
    }
    optimiser.step(state);
    finish_iteration(/*first=*/false);
  }
  log::info(cat("search finished after ", state.iteration, " iterations (", swarm::to_string(state.stop_reason),
                "), best utility ", state.best_utility, " from row ", state.best_index));
  return result;
}

}  // namespace modelswarm::search
