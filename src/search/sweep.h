// Private to src/search: the sweep while it runs (sweep_run.cpp) and what it returns
// (sweep_results.cpp); sweep_job.cpp drives it. See modelswarm/search/sweep_job.h.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modelswarm/config/task_config.h"
#include "modelswarm/dist/world.h"
#include "modelswarm/search/sweep_plan.h"
#include "modelswarm/swarm/optimiser.h"
#include "search/job.h"
#include "search/sweep_checkpoint.h"

namespace modelswarm::search {

// One trial while the sweep runs: its task config, its algorithm's driver and its state.
struct TrialRun {
  const Trial* trial = nullptr;
  TaskConfig config;
  std::unique_ptr<swarm::Optimiser> optimiser;
  SweepTrialState run;
  swarm::PendingIteration pending;

  bool running() const { return run.status == "running"; }
  int64_t swarm_size() const { return config.algorithm->common().swarm_size; }
};

/// "inertia=0.4031 algorithm=cma_es": a trial's varied values for log lines (4 significant digits).
std::string describe(const nlohmann::json& varied);

/// A candidate's utility on the split that picks the winner.
inline double on_split(const Candidate& c, SelectionSplit split) {
  return split == SelectionSplit::kValidation ? c.validation : c.dev;
}

// The sweep in RUN_DIR: the loaded job, the trials, and the loop that runs them together.
class Sweep {
 public:
  /// `ranks`: a distributed sweep's group (null in one process); only rank 0 writes.
  Sweep(const TaskConfig& config, const SweepPlan& plan, LoadedJob& job, Clock::time_point start,
        dist::RankGroup* ranks)
      : config_(config), plan_(plan), job_(job), start_(start), ranks_(ranks),
        writer_(!ranks || ranks->world().writer()) {}

  void start_or_resume(bool resume);
  void run(bool live_line);
  nlohmann::json finish();

 private:
  std::vector<RunResult> finished_runs() const;
  std::vector<Outcome> returned_adapters(const std::vector<RunResult>& runs) const;
  nlohmann::json configuration_ranking(const std::vector<Outcome>& outcomes, SelectionSplit selection) const;
  std::filesystem::path checkpoint_dir() const { return config_.output_dir / "checkpoint"; }
  void make_trials();
  void step_running_trials();
  void stop_trailing_trials();
  void stop_over_budget_trials();
  void save();
  std::string progress_line() const;
  nlohmann::json trial_line(const TrialRun& t, const Outcome& o) const;
  SelectionSplit winner_selection() const;

  const TaskConfig& config_;
  const SweepPlan& plan_;
  LoadedJob& job_;
  Clock::time_point start_;
  dist::RankGroup* ranks_;
  bool writer_;
  std::vector<TrialRun> trials_;
  nlohmann::json baselines_metadata_;  // baselines_dev of the merges and the uniform average
  int64_t iteration_ = 0;    // sweep iterations completed
  int64_t engine_evaluations_ = 0;
  int64_t rows_last_iteration_ = 0;
  double iterations_seconds_ = 0;  // in this process: scoring and updates, not loading or checkpoints
};

}  // namespace modelswarm::search
