// report.json of a finished run, and the run directory's outputs (search/job.h).
#include <torch/version.h>

#include <cmath>

#include "modelswarm/common/device.h"
#include "modelswarm/formats/hf_cache.h"
#include "modelswarm/report/html_report.h"
#include "search/job.h"

namespace modelswarm::search {
using nlohmann::json;

namespace {

json make_report(const LoadedJob& job, const TaskConfig& config, const RunResult& run, const Outcome& o,
                 const json& written, Clock::time_point start) {
  const swarm::State& state = run.state;
  const Candidate& returned = o.returned();
  const int64_t n = job.n();
  json report = search_summary(*config.algorithm, state, config.top_k);
  json experts_json = json::array();
  double best_expert_dev = -INFINITY, best_expert_test = -INFINITY;
  for (int64_t e = 0; e < n; ++e) {
    const Candidate& b = o.baselines[e];
    if (std::isfinite(b.dev)) best_expert_dev = std::max(best_expert_dev, b.dev);
    if (std::isfinite(b.test)) best_expert_test = std::max(best_expert_test, b.test);
    experts_json.push_back({{"name", job.pool.names[e]}, {"path", config.experts[e].string()},
                            {"dev", number_or_null(b.dev)}, {"validation", number_or_null(b.validation)},
                            {"test", number_or_null(b.test)}});
  }
  const Candidate& average = o.baselines[n];
  json merges = json::array();
  for (size_t i = n + 1; i < o.baselines.size(); ++i) merges.push_back(o.baselines[i].to_json());
  report["swarm_best"] = report["best"];
  report["swarm_best"]["validation"] = number_or_null(o.search_best().validation);
  report["swarm_best"]["test"] = number_or_null(o.search_best().test);
  report["best"] = {{"source", to_string(returned.kind)}, {"name", returned.name}, {"selected_on", o.selection_name()},
                    {"dev", number_or_null(returned.dev)}, {"validation", number_or_null(returned.validation)},
                    {"test", number_or_null(returned.test)}, {"path", (config.output_dir / "best").string()}};
  if (returned.kind == CandidateKind::kSwarm) {
    report["best"]["particle"] = report["swarm_best"]["particle"];
    report["best"]["found_at_iteration"] = report["swarm_best"]["found_at_iteration"];
  }
  for (size_t r = 0; r < report["top_k"].size(); ++r) {
    report["top_k"][r]["validation"] = number_or_null(o.candidates[1 + r].validation);
    report["top_k"][r]["test"] = number_or_null(o.candidates[1 + r].test);
    report["top_k"][r]["path"] = written[r + 1]["dir"];
  }
  double search_seconds = 0;
  int64_t evaluated_tokens = 0;
  for (const auto& record : state.history) {
    search_seconds += record.wall_time_s;
    evaluated_tokens += record.extra.value("tokens", int64_t(0));
  }
  const auto& info = job.info;
  report["versions"] = {{"modelswarm", MODELSWARM_VERSION}, {"torch", TORCH_VERSION}};
  report["config"] = config.raw;
  report["config_path"] = config.source.string();
  report["device"] = job.evaluator->device().str();
  report["dtype"] = dtype_name(job.model_dtype());
  report["dtype_reason"] = choose_dtype(config.dtype, job.evaluator->device()).reason;
  report["space"] = config.space == SearchSpace::kCoefficients ? "coefficients" : "parameters";
  report["utility"] = {{"type", info.type}, {"metric", info.metric}, {"description", info.description},
                       {"dev_examples", info.dev_examples}, {"validation_examples", info.validation_examples},
                       {"test_examples", info.test_examples}};
  report["experts"] = experts_json;
  report["sources"] = {{"base_model", hf::describe_source(config.base_model)},
                       {"experts", hf::describe_sources(config.experts)}};
  report["uniform_average"] = {{"dev", number_or_null(average.dev)}, {"validation", number_or_null(average.validation)},
                               {"test", number_or_null(average.test)},
                               {"in_swarm", run.metadata.value("uniform_average_in_swarm", false)}};
  report["baselines"] = merges;
  report["warnings"] = o.warnings;
  report["improvement"] = {{"dev_over_best_expert", number_or_null(returned.dev - best_expert_dev)},
                           {"dev_over_uniform_average", number_or_null(returned.dev - average.dev)},
                           {"test_over_best_expert", number_or_null(returned.test - best_expert_test)},
                           {"test_over_uniform_average", number_or_null(returned.test - average.test)}};
  report["evaluated_tokens"] = evaluated_tokens;
  report["search_time_s"] = search_seconds;
  report["seconds_per_iteration"] = number_or_null(search_seconds / static_cast<double>(state.history.size()));
  report["wall_time_s"] = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace

json write_run_outputs(const LoadedJob& job, const TaskConfig& config, const RunResult& run, const Outcome& outcome,
                       Clock::time_point start, const json& extra) {
  const Candidate& returned = outcome.returned();
  const ReturnedAdapter returned_adapter{
      returned.position,
      {{"role", "returned"}, {"source", to_string(returned.kind)}, {"name", returned.name},
       {"selected_on", outcome.selection_name()}, {"dev", number_or_null(returned.dev)},
       {"validation", number_or_null(returned.validation)}, {"test", number_or_null(returned.test)}}};
  const json written = write_search_outputs(config.output_dir, job.pool.layout, *config.algorithm, run.state,
                                            config.top_k, job.base_model_name(config), job.to_position,
                                            &returned_adapter);
  json report = make_report(job, config, run, outcome, written, start);
  for (const auto& [key, value] : extra.items()) report[key] = value;
  write_report(config.output_dir, report);
  report::write_html_report(config.output_dir);
  return report;
}

}  // namespace modelswarm::search
