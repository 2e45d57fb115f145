#include "modelswarm/search/sweep_job.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/common/strings.h"
#include "modelswarm/dist/world.h"
#include "modelswarm/report/sweep_html.h"
#include "modelswarm/search/history.h"
#include "modelswarm/search/run_lock.h"
#include "modelswarm/search/search_job.h"
#include "modelswarm/search/stop_signal.h"
#include "modelswarm/search/sweep_plan.h"
#include "modelswarm/swarm/optimiser.h"
#include "search/job.h"
#include "search/sweep_checkpoint.h"

namespace modelswarm::search {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string two_digits(int64_t t) { return t < 10 ? cat("0", t) : cat(t); }

double on_split(const Candidate& c, SelectionSplit split) {
  return split == SelectionSplit::kValidation ? c.validation : c.dev;
}

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
  json finish();

 private:
  std::vector<RunResult> finished_runs() const;
  std::vector<Outcome> returned_adapters(const std::vector<RunResult>& runs) const;
  json configuration_ranking(const std::vector<Outcome>& outcomes, SelectionSplit selection) const;
  fs::path checkpoint_dir() const { return config_.output_dir / "checkpoint"; }
  void make_trials();
  void step_running_trials();
  void stop_trailing_trials();
  void stop_over_budget_trials();
  void save();
  std::string progress_line() const;
  json trial_line(const TrialRun& t, const Outcome& o) const;
  SelectionSplit winner_selection() const;

  const TaskConfig& config_;
  const SweepPlan& plan_;
  LoadedJob& job_;
  Clock::time_point start_;
  dist::RankGroup* ranks_;
  bool writer_;
  std::vector<TrialRun> trials_;
  json baselines_metadata_;  // baselines_dev of the merges and the uniform average
  int64_t iteration_ = 0;    // sweep iterations completed
  int64_t engine_evaluations_ = 0;
  int64_t rows_last_iteration_ = 0;
  double iterations_seconds_ = 0;  // in this process: scoring and updates, not loading or checkpoints
};

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
  const std::vector<size_t> first = first_equal_rows(rows);
  std::vector<at::Tensor> unique;
  std::vector<int64_t> ids;
  std::vector<size_t> slot(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (first[i] != i) {
      slot[i] = slot[first[i]];
      continue;
    }
    slot[i] = unique.size();
    ids.push_back(static_cast<int64_t>(unique.size()));
    unique.push_back(rows[i]);
  }
  const std::vector<double> scored =
      unique.empty() ? std::vector<double>() : swarm::evaluate_checked(*job_.problem, at::stack(unique), ids);
  engine_evaluations_ += static_cast<int64_t>(unique.size());
  rows_last_iteration_ = static_cast<int64_t>(unique.size());
  size_t i = 0;
  for (TrialRun* t : running) {
    std::vector<double> utilities;
    for (int64_t m = 0; m < t->pending.positions.size(0); ++m) utilities.push_back(scored[slot[i++]]);
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

SelectionSplit Sweep::winner_selection() const {
  switch (plan_.selection) {
    case SweepSelection::kValidation: return SelectionSplit::kValidation;
    case SweepSelection::kDev: return SelectionSplit::kDev;
    case SweepSelection::kAuto: break;
  }
  return job_.info.validation_examples > 0 ? SelectionSplit::kValidation : SelectionSplit::kDev;
}


std::string stopped_because(const TrialRun& t) {
  if (t.run.status == "pruned") return cat("pruned at iteration ", t.run.state.iteration);
  if (t.run.status == "budget") return "sweep budget";
  return swarm::to_string(t.run.state.stop_reason);
}

json Sweep::trial_line(const TrialRun& t, const Outcome& o) const {
  const Candidate& r = o.returned();
  return {{"trial", t.trial->id},
          {"configuration", t.trial->configuration},
          {"replicate", t.trial->replicate},
          {"varied", t.trial->varied},
          {"search", t.trial->search},
          {"status", t.run.status},
          {"stopped_because", stopped_because(t)},
          {"iterations", t.run.state.iteration},
          {"evaluations", t.run.state.evaluations},
          {"search_best", {{"dev", number_or_null(o.search_best().dev)}}},
          {"returned",
           {{"source", to_string(r.kind)}, {"name", r.name}, {"selected_on", o.selection_name()},
            {"dev", number_or_null(r.dev)}, {"validation", number_or_null(r.validation)},
            {"test", number_or_null(r.test)}}},
          {"config", (t.config.output_dir / "search.json").string()},
          {"rerun", cat("modelswarm search --config ", config_.source.string(), " --search ",
                        (t.config.output_dir / "search.json").string(), " --output-dir DIR")}};
}

std::vector<RunResult> Sweep::finished_runs() const {
  std::vector<RunResult> runs;
  for (const auto& t : trials_) {
    RunResult r;
    r.state = t.run.state;
    r.metadata = t.run.metadata;
    runs.push_back(std::move(r));
  }
  return runs;
}

// Every trial's returned adapter, chosen as `search` chooses it; all candidates scored together.
std::vector<Outcome> Sweep::returned_adapters(const std::vector<RunResult>& runs) const {
  std::vector<Outcome> outcomes;
  for (size_t i = 0; i < trials_.size(); ++i) outcomes.push_back(begin_outcome(job_, trials_[i].config, runs[i]));
  std::vector<Outcome*> all;
  for (auto& o : outcomes) all.push_back(&o);
  score_outcomes(job_, all);
  for (auto& o : outcomes) select_outcome(job_, o, /*log_them=*/false);
  return outcomes;
}

// The best expert and the uniform average on each split: the HTML page's reference lines.
json baselines_summary(const Outcome& o, int64_t n, SelectionSplit selection) {
  auto splits = [](const Candidate& c) {
    return json{{"dev", number_or_null(c.dev)}, {"validation", number_or_null(c.validation)},
                {"test", number_or_null(c.test)}};
  };
  const Candidate* best_expert = nullptr;
  for (const auto& b : o.baselines)
    if (b.kind == CandidateKind::kExpert && (!best_expert || on_split(b, selection) > on_split(*best_expert, selection)))
      best_expert = &b;
  json best = splits(*best_expert);
  best["name"] = best_expert->name;
  return {{"best_expert", best}, {"uniform_average", splits(o.baselines.at(n))}};
}

// Each configuration's mean over its replicates of the returned adapters' dev, validation and
// test utilities, best first on the selection split (a missing utility counts as -inf; ties to
// the earlier configuration).
json Sweep::configuration_ranking(const std::vector<Outcome>& outcomes, SelectionSplit selection) const {
  const size_t count = plan_.trials.size() / static_cast<size_t>(plan_.replicates);
  const double r = static_cast<double>(plan_.replicates);
  std::vector<std::array<double, 3>> mean(count, {0, 0, 0});  // dev, validation, test
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const Candidate& c = outcomes[i].returned();
    auto& m = mean[trials_[i].trial->configuration];
    m[0] += c.dev / r;
    m[1] += c.validation / r;
    m[2] += c.test / r;
  }
  auto key = [&](size_t c) {
    const double v = mean[c][selection == SelectionSplit::kValidation ? 1 : 0];
    return std::isnan(v) ? -INFINITY : v;
  };
  std::vector<size_t> order(count);
  for (size_t c = 0; c < count; ++c) order[c] = c;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) > key(b); });
  json ranking = json::array();
  for (size_t c : order) {
    const Trial& first = plan_.trials[c * static_cast<size_t>(plan_.replicates)];
    ranking.push_back({{"configuration", c}, {"varied", first.varied},
                       {"returned_mean", {{"dev", number_or_null(mean[c][0])}, {"validation", number_or_null(mean[c][1])},
                                          {"test", number_or_null(mean[c][2])}}}});
  }
  return ranking;
}

json Sweep::finish() {
  const std::vector<RunResult> runs = finished_runs();
  const std::vector<Outcome> outcomes = returned_adapters(runs);
  const SelectionSplit selection = winner_selection();
  const json configurations = configuration_ranking(outcomes, selection);
  // The best configuration's best replicate (ties to the earlier trial).
  const int64_t best_configuration = configurations.at(0).at("configuration");
  size_t winner = 0;
  bool found = false;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (trials_[i].trial->configuration != best_configuration) continue;
    if (!found || on_split(outcomes[i].returned(), selection) > on_split(outcomes[winner].returned(), selection)) winner = i;
    found = true;
  }
  const TrialRun& w = trials_[winner];

  std::string lines;
  int64_t evaluations = 0;
  for (size_t i = 0; i < trials_.size(); ++i) {
    lines += trial_line(trials_[i], outcomes[i]).dump() + "\n";
    evaluations += trials_[i].run.state.evaluations;
    rewrite_history(trials_[i].config.output_dir / "history.jsonl", trials_[i].run.state.history);
  }
  write_text_atomic(config_.output_dir / "sweep.jsonl", lines);

  // The winner's outputs, as `search` would write them, in RUN_DIR itself.
  const TaskConfig winner_config = trial_config(config_, *w.trial, config_.output_dir);
  rewrite_history(config_.output_dir / "history.jsonl", w.run.state.history);
  write_run_outputs(job_, winner_config, runs[winner], outcomes[winner], start_,
                    {{"sweep", {{"trial", w.trial->id}, {"varied", w.trial->varied},
                                {"summary", (config_.output_dir / "sweep.json").string()}}}});

  const char* selection_name = selection == SelectionSplit::kValidation ? "validation" : "dev";
  const json summary = {
      {"utility", {{"type", job_.info.type}, {"metric", job_.info.metric}}},
      {"selection", selection_name},
      {"varied", plan_.varied_summary()},
      {"winner", w.trial->id},
      {"winner_configuration", best_configuration},
      {"winner_returned", trial_line(w, outcomes[winner])["returned"]},
      {"winner_search", w.trial->search},
      {"trials", trials_.size()},
      {"replicates", plan_.replicates},
      {"configurations", configurations},
      {"mode", plan_.mode},
      {"seed", plan_.seed},
      {"iterations", iteration_},
      {"evaluations", evaluations},
      {"engine_evaluations", engine_evaluations_},
      {"baselines", baselines_summary(outcomes[winner], job_.n(), selection)},
      {"sweep", plan_.raw},
      {"run_dir", config_.output_dir.string()},
      {"search_time_s", iterations_seconds_},
      {"wall_time_s", std::chrono::duration<double>(Clock::now() - start_).count()}};
  write_text_atomic(config_.output_dir / "sweep.json", summary.dump(2) + "\n");
  report::write_sweep_html(config_.output_dir);
  log::info(cat("sweep finished: trial ", w.trial->id, " (", describe(w.trial->varied), ") wins with ",
                selection_name, " ", on_split(outcomes[winner].returned(), selection), "; ", evaluations,
                " trial evaluations, ", engine_evaluations_, " scored by the engine"));
  log::info(cat("winner's adapter: ", (config_.output_dir / "best").string(), "; trials: ",
                (config_.output_dir / "sweep.jsonl").string(), " and ", (config_.output_dir / "sweep.html").string()));
  return summary;
}

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
