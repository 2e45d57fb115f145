#include "modelswarm/search/search_job.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <cmath>
#include <iostream>
#include <sstream>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/dist/world.h"
#include "modelswarm/lora/merge.h"
#include "modelswarm/search/run_lock.h"
#include "modelswarm/search/runner.h"
#include "modelswarm/search/stop_signal.h"
#include "modelswarm/swarm/checkpoint.h"
#include "search/job.h"

namespace modelswarm::search {
namespace fs = std::filesystem;
using nlohmann::json;

void check_baselines(const TaskConfig& config) {
  // The merge registry knows its methods and lists them in its error.
  for (const auto& m : config.baselines.merges) {
    try {
      lora::merge_method_summary(m);
    } catch (const ConfigError& e) {
      throw ConfigError(cat(config.source.string(), ": baselines.merges: ", e.what()));
    }
  }
}

namespace {

std::string progress_line(const swarm::State& state, const swarm::Algorithm& algorithm, double seconds) {
  const int64_t max_iterations = algorithm.common().max_iterations;
  std::ostringstream line;
  line << "iteration " << state.iteration << "/" << max_iterations << "  best " << state.best_utility;
  const std::string own = algorithm.progress(state);
  if (!own.empty()) line << "  " << own;
  line << "  scored " << state.history.back().evaluated.size() << "/" << state.size() << "  "
       << static_cast<int64_t>(seconds) << "s";
  if (state.iteration > 0 && state.iteration < max_iterations) {
    const double per_iteration = seconds / static_cast<double>(state.iteration);
    line << "  ETA <= " << static_cast<int64_t>(per_iteration * static_cast<double>(max_iterations - state.iteration))
         << "s";
  }
  return line.str();
}

// ---- step 2: search ---------------------------------------------------------------------------

// Scores the baselines that are not rows of the first iteration on dev (a fresh run only: the
// checkpoint keeps them), then runs or resumes the algorithm to its end.
// Each device's or rank's share of the last evaluation and its rows per second, or "".
std::string shares_line(const LoadedJob& job) {
  if (job.rank_problem) {
    std::vector<std::string> names;
    for (size_t r = 0; r < job.rank_problem->last_shares().size(); ++r) names.push_back(cat("rank ", r));
    return swarm::describe_shares(job.rank_problem->last_shares(), names);
  }
  if (job.sharded_problem) {
    std::vector<std::string> names;
    for (size_t d = 0; d < job.sharded_problem->last_shares().size(); ++d) names.push_back(cat("device ", d));
    return swarm::describe_shares(job.sharded_problem->last_shares(), names);
  }
  return "";
}

RunResult run_algorithm(LoadedJob& job, const SearchFlags& flags, Clock::time_point start, dist::RankGroup* ranks) {
  const TaskConfig& config = *job.config;
  const swarm::Algorithm& algorithm = *config.algorithm;
  RunSettings settings;
  settings.run_dir = config.output_dir;
  settings.resume = flags.resume;
  settings.take_lock = false;
  settings.resume_command = cat("modelswarm search --config ", config.source.string(), " --resume");
  const bool average_in_swarm = job.average_in_swarm(config);
  if (config.include_uniform_average && !average_in_swarm)
    log::info(cat("search.swarm_size (", algorithm.common().swarm_size, ") leaves no room for the uniform average ",
                  "beside the ", job.n(), " experts: it is scored as a baseline only"));
  const bool writer = !ranks || ranks->world().writer();
  settings.writer = writer;
  if (ranks)
    settings.agree_to_stop = [ranks](bool requested, int64_t iteration) {
      return agree_to_stop(ranks, requested, iteration);
    };
  // Only the writer needs the baselines' dev utilities (they go into its checkpoint).
  if (writer && !flags.resume && !swarm::checkpoint_exists(config.output_dir / "checkpoint"))
    score_outside_baselines(job, average_in_swarm, settings.metadata);

  const bool live = flags.progress_line && ::isatty(STDERR_FILENO);
  int64_t tokens_seen = job.evaluator->tokens_processed();
  auto on_iteration = [&](swarm::State& state) {
    const int64_t tokens = job.evaluator->tokens_processed();
    state.history.back().extra["tokens"] = tokens - tokens_seen;
    tokens_seen = tokens;
    std::string line = progress_line(state, algorithm, std::chrono::duration<double>(Clock::now() - start).count());
    const std::string shares = shares_line(job);
    if (!shares.empty()) line += cat("  (", shares, ")");
    if (live) {
      std::cerr << "\r" << line << "   " << std::flush;
    } else {
      log::info(line);
    }
  };
  StopSignal stop_signal;
  log::info(cat("search algorithm: ", algorithm.name(), " (", swarm::algorithm_summary(algorithm.name()), ")"));
  Runner runner(algorithm, *job.problem, settings);
  RunResult run;
  try {
    run = runner.run(job.initial_particles(config), on_iteration);
  } catch (const Error& e) {
    if (!ranks) throw;
    // A rank that died or hangs: the others stop here; the checkpoint on disk is complete.
    throw Error(cat(e.what(), "; ", config.output_dir.string(), " holds a complete checkpoint: resume with ",
                    settings.resume_command, " (with any number of ranks)"));
  }
  if (live) std::cerr << "\n";
  if (run.outcome == RunOutcome::kInterrupted)
    throw Error(cat("interrupted after iteration ", run.state.iteration, "; resume with: ", settings.resume_command));
  log::info(cat("search finished (", swarm::to_string(run.state.stop_reason), ") after ", run.state.iteration,
                " iterations; best dev utility ", run.state.best_utility));
  return run;
}

}  // namespace

SearchResult run_search(const TaskConfig& config, const SearchFlags& flags) {
  const auto start = Clock::now();
  const fs::path run_dir = config.output_dir;
  check_baselines(config);
  // A distributed run meets first: a rank started with another config is refused before any work.
  const Ranks ranks = join_ranks(config);
  // Locked next, by the one process that writes: a second search on this directory is refused
  // before it loads anything or writes a line into this run's log.
  std::optional<RunLock> lock;
  if (ranks.writer()) {
    lock.emplace(RunLock::acquire(run_dir));
    add_log_file((run_dir / "search.log").string());
  }
  log::info(cat(flags.resume ? "resuming" : "starting", " search: config ", config.source.string(), ", run directory ",
                run_dir.string()));
  if (!config.sweep.is_null()) log::info("the config's sweep section is for `modelswarm sweep`; search ignores it");

  const std::unique_ptr<LoadedJob> job = load_job(config, ranks.group.get());
  const RunResult run = run_algorithm(*job, flags, start, ranks.group.get());
  if (!ranks.writer()) {  // rank 0 chooses, scores and writes what the search returns
    SearchResult result;
    result.writer = false;
    return result;
  }
  Outcome outcome = begin_outcome(*job, config, run);
  score_outcomes(*job, {&outcome});
  select_outcome(outcome, /*log_them=*/true);
  json report = write_run_outputs(*job, config, run, outcome, start);

  const Candidate& returned = outcome.returned();
  std::string scores = cat("dev ", returned.dev);
  if (std::isfinite(returned.validation)) scores += cat(", validation ", returned.validation);
  if (std::isfinite(returned.test)) scores += cat(", test ", returned.test);
  log::info(cat("returned adapter: ", returned.name, " (", to_string(returned.kind), "), ", scores));
  log::info(cat("best adapter: ", (run_dir / "best").string(), "; report: ", (run_dir / "report.json").string(), " and ",
                (run_dir / "report.html").string()));

  SearchResult result;
  result.report = std::move(report);
  if (flags.expect_min_utility && !(returned.dev >= *flags.expect_min_utility)) {
    log::error(cat("best dev utility ", returned.dev, " is below --expect-min-utility ", *flags.expect_min_utility));
    result.exit_code = static_cast<int>(ExitCode::kBelowExpectation);
  }
  return result;
}

}  // namespace modelswarm::search
