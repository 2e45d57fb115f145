#include "search/sweep.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <limits>
#include <numeric>
#include <sstream>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/search/history.h"
#include "modelswarm/search/stop_signal.h"

namespace modelswarm::search {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string two_digits(int64_t t) { return t < 10 ? cat("0", t) : cat(t); }

}  // namespace

// "inertia=0.4031 algorithm=cma_es": a trial's varied values for log lines (4 significant digits).
std::string describe(const json& varied) {
  std::string out;
  for (const auto& [key, value] : varied.items()) {
    std::ostringstream v;
    if (value.is_number_float()) v << std::setprecision(4) << value.get<double>();
    else v << (value.is_string() ? value.get<std::string>() : value.dump());
    out += cat(out.empty() ? "" : " ", key, "=", v.str());
  }
  return out;
}

void Sweep::make_trials() {
  trials_.clear();
  trials_.reserve(plan_.trials.size());
  for (const auto& trial : plan_.trials) {
    TrialRun t;
    t.trial = &trial;
    t.config = trial_config(config_, trial, config_.output_dir / "trials" / two_digits(trial.id));
    t.optimiser = std::make_unique<swarm::Optimiser>(*t.config.algorithm, *job_.problem);
    t.run.options = swarm::to_json(*t.config.algorithm);
    trials_.push_back(std::move(t));
  }
}

void Sweep::start_or_resume(bool resume) {
  make_trials();
  json searches = json::array();
  for (const auto& t : trials_) searches.push_back(t.trial->search);
  if (resume) {
    if (!sweep_checkpoint_exists(checkpoint_dir()))
      throw ConfigError(cat(config_.output_dir.string(),
                            ": nothing to resume (no checkpoint/sweep.json); run the sweep without --resume"));
    SweepCheckpoint saved = load_sweep_checkpoint(checkpoint_dir(), job_.experts.device());
    if (saved.trial_searches != searches)
      throw ConfigError(cat(config_.source.string(), ": sweep: its trials differ from those of the sweep being resumed in ",
                            config_.output_dir.string(), "; resume with the original config or use another output.dir"));
    iteration_ = saved.iteration;
    engine_evaluations_ = saved.engine_evaluations;
    for (size_t t = 0; t < trials_.size(); ++t) {
      trials_[t].config.algorithm->check(saved.trials[t].state, (checkpoint_dir() / "sweep.json").string());
      trials_[t].run = std::move(saved.trials[t]);
    }
    log::info(cat("resuming the sweep in ", config_.output_dir.string(), " after iteration ", iteration_));
    return;
  }
  if (sweep_checkpoint_exists(checkpoint_dir()))
    throw ConfigError(cat(config_.output_dir.string(), ": already holds a sweep (checkpoint/); pass --resume to ",
                          "continue it, or choose another output.dir"));
  if (writer_) {
    for (const auto& t : trials_) {
      fs::create_directories(t.config.output_dir);
      write_text_atomic(t.config.output_dir / "search.json", t.trial->search.dump(2) + "\n");
    }
    // The baselines outside the swarm are scored once for every trial (into the writer's checkpoint).
    score_outside_baselines(job_, /*average_in_swarm=*/false, baselines_metadata_);
  }
  const auto iteration_start = Clock::now();
  for (auto& t : trials_) {
    t.run.metadata = baselines_metadata_;
    t.run.metadata["uniform_average_in_swarm"] = job_.average_in_swarm(t.config);
    t.run.state = t.optimiser->begin_initial(job_.initial_particles(t.config), t.pending);
  }
  step_running_trials();
  iterations_seconds_ += std::chrono::duration<double>(Clock::now() - iteration_start).count();
  stop_over_budget_trials();
  save();
}

// Scores every running trial's pending rows in one batched evaluation (rows shared by several
// trials once) and completes their iterations.
void Sweep::step_running_trials() {
  std::vector<TrialRun*> running;
  for (auto& t : trials_)
    if (t.running()) running.push_back(&t);
  std::vector<at::Tensor> rows;
  for (TrialRun* t : running)
    for (int64_t m = 0; m < t->pending.positions.size(0); ++m) rows.push_back(t->pending.positions[m]);
  const UniqueRows unique = unique_rows(rows);
  std::vector<int64_t> ids(unique.unique.size());  // for evaluate_checked's warnings: the unique row
  std::iota(ids.begin(), ids.end(), int64_t(0));
  const std::vector<double> scored =
      unique.unique.empty() ? std::vector<double>()
                            : swarm::evaluate_checked(*job_.problem, at::stack(unique.unique), ids);
  engine_evaluations_ += static_cast<int64_t>(unique.unique.size());
  rows_last_iteration_ = static_cast<int64_t>(unique.unique.size());
  size_t i = 0;
  for (TrialRun* t : running) {
    std::vector<double> utilities;
    for (int64_t m = 0; m < t->pending.positions.size(0); ++m) utilities.push_back(scored[unique.slot[i++]]);
    t->optimiser->finish(t->run.state, t->pending, utilities);
    t->run.moved = true;
    if (t->run.state.finished()) t->run.status = "finished";
  }
}

// Successive halving at a rung: the configurations still running outside the best `keep`
// fraction by mean best dev utility over their replicates (ties to the earlier one) stop here.
void Sweep::stop_trailing_trials() {
  if (!plan_.early_stopping.is_rung(iteration_)) return;
  std::vector<int64_t> running;  // configurations with a running trial
  for (const auto& t : trials_)
    if (t.running() && (running.empty() || running.back() != t.trial->configuration))
      running.push_back(t.trial->configuration);
  if (running.size() < 2) return;
  std::vector<double> best_dev(plan_.trials.size() / plan_.replicates, 0.0);
  for (const auto& t : trials_)
    best_dev[t.trial->configuration] += t.run.state.best_utility / static_cast<double>(plan_.replicates);
  std::stable_sort(running.begin(), running.end(), [&](int64_t a, int64_t b) { return best_dev[a] > best_dev[b]; });
  const size_t keep = std::max<size_t>(
      1, static_cast<size_t>(std::ceil(plan_.early_stopping.keep * static_cast<double>(running.size()))));
  for (size_t r = keep; r < running.size(); ++r)
    for (auto& t : trials_)
      if (t.trial->configuration == running[r] && t.running()) t.run.status = "pruned";
  log::info(cat("sweep iteration ", iteration_, ": early stopping keeps ", keep, " of ", running.size(),
                " running configurations"));
}

// Stops every running trial when the next iteration could score more rows than the budget left.
void Sweep::stop_over_budget_trials() {
  if (plan_.max_evaluations <= 0) return;
  int64_t next = 0;
  for (const auto& t : trials_)
    if (t.running()) next += t.swarm_size();
  if (next == 0 || engine_evaluations_ + next <= plan_.max_evaluations) return;
  for (auto& t : trials_)
    if (t.running()) t.run.status = "budget";
  log::info(cat("sweep.max_evaluations (", plan_.max_evaluations, ") reached: ", engine_evaluations_,
                " rows scored, the next iteration could score ", next));
}

void Sweep::save() {
  if (!writer_) return;
  SweepCheckpoint c;
  c.iteration = iteration_;
  c.engine_evaluations = engine_evaluations_;
  c.trial_searches = json::array();
  for (const auto& t : trials_) c.trial_searches.push_back(t.trial->search);
  // The states are moved into the checkpoint for the save and back, to copy no tensor.
  for (auto& t : trials_) c.trials.push_back(std::move(t.run));
  try {
    save_sweep_checkpoint(checkpoint_dir(), c);
  } catch (...) {
    for (size_t i = 0; i < trials_.size(); ++i) trials_[i].run = std::move(c.trials[i]);
    throw;
  }
  for (size_t i = 0; i < trials_.size(); ++i) {
    trials_[i].run = std::move(c.trials[i]);
    trials_[i].run.moved = false;
  }
}

std::string Sweep::progress_line() const {
  int64_t running = 0;
  const TrialRun* best = nullptr;
  for (const auto& t : trials_) {
    running += t.running() ? 1 : 0;
    if (!best || t.run.state.best_utility > best->run.state.best_utility) best = &t;
  }
  std::ostringstream line;
  line << "sweep iteration " << iteration_ << "  " << running << "/" << trials_.size() << " trials running  scored "
       << rows_last_iteration_ << " (" << engine_evaluations_ << " in all)";
  if (best)
    line << "  best dev " << best->run.state.best_utility << " (trial " << best->trial->id << ": "
         << describe(best->trial->varied) << ")";
  line << "  " << static_cast<int64_t>(std::chrono::duration<double>(Clock::now() - start_).count()) << "s";
  return line.str();
}

void Sweep::run(bool live_line) {
  StopSignal stop_signal;
  const std::string resume_command = cat("modelswarm sweep --config ", config_.source.string(), " --resume");
  auto any_running = [&] {
    return std::any_of(trials_.begin(), trials_.end(), [](const TrialRun& t) { return t.running(); });
  };
  auto show = [&] {
    if (live_line) std::cerr << "\r" << progress_line() << "   " << std::flush;
    else log::info(progress_line());
  };
  show();
  while (any_running()) {
    if (agree_to_stop(ranks_, stop_requested(), iteration_)) {
      if (live_line) std::cerr << "\n";
      throw Error(cat("interrupted after sweep iteration ", iteration_, "; resume with: ", resume_command));
    }
    const auto iteration_start = Clock::now();
    for (auto& t : trials_)
      if (t.running()) t.pending = t.optimiser->begin_step(t.run.state);
    step_running_trials();
    iterations_seconds_ += std::chrono::duration<double>(Clock::now() - iteration_start).count();
    ++iteration_;
    stop_trailing_trials();
    stop_over_budget_trials();
    save();
    show();
  }
  if (live_line) std::cerr << "\n";
}

}  // namespace modelswarm::search
