#include "modelswarm/search/sweep_job.h"

#include <unistd.h>

#include <optional>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/common/strings.h"
#include "modelswarm/search/run_lock.h"
#include "modelswarm/search/search_job.h"
#include "modelswarm/search/sweep_plan.h"
#include "search/sweep.h"

namespace modelswarm::search {
using nlohmann::json;

namespace {

// Trials with the same search object run the same search (their rows are scored once, but they
// take a place in the sweep): say so, since a random draw over several algorithms can make them.
void warn_about_repeated_trials(const SweepPlan& plan) {
  for (size_t t = 0; t < plan.trials.size(); ++t) {
    std::vector<std::string> repeats;
    bool seen_before = false;
    for (size_t u = 0; u < plan.trials.size(); ++u) {
      if (u == t || plan.trials[u].search != plan.trials[t].search) continue;
      if (u < t) seen_before = true;
      else repeats.push_back(std::to_string(u));
    }
    if (!seen_before && !repeats.empty())
      log::warn(cat("sweep trials ", join(repeats, ", "), " repeat trial ", t, "'s search options (",
                    describe(plan.trials[t].varied), "): they will run the same search"));
  }
}

}  // namespace

json run_sweep(const TaskConfig& config, const SweepFlags& flags) {
  const auto start = Clock::now();
  const SweepPlan plan = plan_sweep(config);
  check_baselines(config);
  const Ranks ranks = join_ranks(config);
  std::optional<RunLock> lock;
  if (ranks.writer()) {
    lock.emplace(RunLock::acquire(config.output_dir));
    add_log_file((config.output_dir / "sweep.log").string());
  }
  log::info(cat(flags.resume ? "resuming" : "starting", " sweep of ", plan.trials.size(), " trials (", plan.mode,
                "): config ", config.source.string(), ", run directory ", config.output_dir.string()));
  warn_about_repeated_trials(plan);
  const std::unique_ptr<LoadedJob> job = load_job(config, ranks.group.get());
  if (plan.selection == SweepSelection::kValidation && job->info.validation_examples == 0)
    throw ConfigError(cat(config.source.string(), ": sweep.selection: \"validation\" but the utility has no ",
                          "validation split (set utility.data.validation_size)"));
  Sweep sweep(config, plan, *job, start, ranks.group.get());
  try {
    sweep.start_or_resume(flags.resume);
    sweep.run(flags.progress_line && ::isatty(STDERR_FILENO));
  } catch (const swarm::ProblemUnavailable& e) {  // a rank died or hangs
    throw Error(cat(e.what(), "; ", config.output_dir.string(), " holds a complete checkpoint: resume with ",
                    "modelswarm sweep --config ", config.source.string(), " --resume (with any number of ranks)"));
  }
  if (!ranks.writer()) return json();  // rank 0 chooses, scores and writes
  return sweep.finish();
}

}  // namespace modelswarm::search

