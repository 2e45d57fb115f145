#include "search/sweep.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/search/history.h"
#include "modelswarm/report/sweep_html.h"

namespace modelswarm::search {
namespace fs = std::filesystem;
using nlohmann::json;

SelectionSplit Sweep::winner_selection() const {
  switch (plan_.selection) {
    case SweepSelection::kValidation: return SelectionSplit::kValidation;
    case SweepSelection::kDev: return SelectionSplit::kDev;
    case SweepSelection::kAuto: break;
  }
  return job_.info.validation_examples > 0 ? SelectionSplit::kValidation : SelectionSplit::kDev;
}


static std::string stopped_because(const TrialRun& t) {
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
  for (auto& o : outcomes) select_outcome(o, /*log_them=*/false);
  return outcomes;
}

// The best expert and the uniform average on each split: the HTML page's reference lines.
static json baselines_summary(const Outcome& o, int64_t n, SelectionSplit selection) {
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

}  // namespace modelswarm::search
