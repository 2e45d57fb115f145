#include "modelswarm/search/search_job.h"

#include <ATen/ATen.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>

#include "modelswarm/common/device.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/report/html_report.h"
#include "modelswarm/search/outputs.h"
#include "modelswarm/search/run_lock.h"
#include "modelswarm/search/runner.h"
#include "modelswarm/search/stop_signal.h"
#include "modelswarm/swarm/checkpoint.h"
#include "modelswarm/swarm/coefficients.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::search {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

// The LLM as a swarm::Problem: positions (M, D) scored by the configured utility on the dev split.
class DevUtilityProblem : public swarm::Problem {
 public:
  DevUtilityProblem(model::Evaluator& evaluator, utility::Utility& utility, int64_t dimension,
                    c10::ScalarType model_dtype)
      : evaluator_(evaluator), utility_(utility), dimension_(dimension), model_dtype_(model_dtype) {}

  int64_t dimension() const override { return dimension_; }
  std::vector<double> evaluate(const at::Tensor& positions) override {
    return utility_.score(evaluator_, positions.to(model_dtype_), utility::Split::kDev).utility;
  }
  std::string name() const override { return utility_.info().description; }

 private:
  model::Evaluator& evaluator_;
  utility::Utility& utility_;
  int64_t dimension_;
  c10::ScalarType model_dtype_;
};

// Base linear weight shapes (out, in) by module name, read from the checkpoint's header only.
lora::BaseShapeLookup base_shapes_of(const fs::path& model_dir) {
  auto shapes = std::make_shared<std::map<std::string, std::pair<int64_t, int64_t>>>();
  const std::string suffix = ".weight";
  for (const auto& e : safetensors::checkpoint_entries(model_dir)) {
    if (e.shape.size() == 2 && e.name.size() > suffix.size() &&
        e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0)
      (*shapes)[e.name.substr(0, e.name.size() - suffix.size())] = {e.shape[0], e.shape[1]};
  }
  return [shapes](const std::string& module) -> std::optional<std::pair<int64_t, int64_t>> {
    auto it = shapes->find(module);
    if (it == shapes->end()) return std::nullopt;
    return it->second;
  };
}

std::string progress_line(const swarm::State& state, const swarm::Options& options, double seconds) {
  std::ostringstream line;
  line << "iteration " << state.iteration << "/" << options.max_iterations << "  best " << state.global_best_utility
       << "  worst " << state.global_worst_utility << "  step " << state.step_length << "  scored "
       << state.history.back().evaluated.size() << "/" << state.size() << "  "
       << static_cast<int64_t>(seconds) << "s";
  if (state.iteration > 0 && state.iteration < options.max_iterations) {
    const double per_iteration = seconds / static_cast<double>(state.iteration);
    line << "  ETA <= " << static_cast<int64_t>(per_iteration * static_cast<double>(options.max_iterations - state.iteration))
         << "s";
  }
  return line.str();
}

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

SearchResult run_search(const TaskConfig& config, const SearchFlags& flags) {
  const auto start = Clock::now();
  const fs::path run_dir = config.output_dir;
  // Locked first: a second search on this directory is refused before it loads anything or
  // writes a line into this run's log.
  const RunLock lock = RunLock::acquire(run_dir);
  add_log_file((run_dir / "search.log").string());
  log::info(cat(flags.resume ? "resuming" : "starting", " search: config ", config.source.string(), ", run directory ",
                run_dir.string()));

  // The pool is checked against the base model's weight shapes before anything heavy is loaded.
  auto pool = lora::ExpertPool::load(config.experts, base_shapes_of(config.base_model));
  log::info(cat("expert pool: ", pool.size(), " experts, ", pool.layout.slots().size(), " modules, D = ",
                pool.layout.dim(), " numbers per particle"));

  const model::EngineOptions engine_options{config.device, config.dtype, config.max_batch_tokens};
  // Data files are read and checked here, before the model is loaded.
  auto utility = utility::make_utility(config.utility, config.source.string(), utility::task_context(config.source, engine_options));
  const auto info = utility->info();
  log::info(cat("utility: ", info.description, " (", info.dev_examples, " dev, ", info.test_examples, " test examples)"));

  auto evaluator = model::load_evaluator(config.base_model, &pool.layout, engine_options);
  const c10::Device device = parse_device(config.device);
  const c10::ScalarType model_dtype = parse_dtype(config.dtype, device);

  // The swarm optimises positions, or mixing coefficients over the experts (LoraHub-style).
  const at::Tensor experts = pool.weights.to(device);  // (n, D) fp32
  DevUtilityProblem positions_problem(*evaluator, *utility, pool.layout.dim(), model_dtype);
  std::unique_ptr<swarm::CoefficientProblem> coefficient_problem;
  swarm::Problem* problem = &positions_problem;
  PositionMap to_position = [](const at::Tensor& x) { return x; };
  if (config.space == SearchSpace::kCoefficients) {
    coefficient_problem = std::make_unique<swarm::CoefficientProblem>(positions_problem, experts);
    problem = coefficient_problem.get();
    to_position = [&](const at::Tensor& x) { return coefficient_problem->to_positions(x); };
  }

  RunSettings settings;
  settings.run_dir = run_dir;
  settings.resume = flags.resume;
  settings.take_lock = false;
  settings.resume_command = cat("modelswarm search --config ", config.source.string(), " --resume");
  if (!flags.resume && !swarm::checkpoint_exists(run_dir / "checkpoint")) {
    // The uniform average of the experts is the baseline the search has to beat.
    const double average = positions_problem.evaluate(experts.mean(0, /*keepdim=*/true)).at(0);
    log::info(cat("uniform average of the experts: dev utility ", average));
    settings.metadata["uniform_average_dev"] = number(average);
  }

  const bool live = flags.progress_line && ::isatty(STDERR_FILENO);
  int64_t tokens_seen = evaluator->tokens_processed();
  auto on_iteration = [&](swarm::State& state) {
    const int64_t tokens = evaluator->tokens_processed();
    state.history.back().extra["tokens"] = tokens - tokens_seen;
    tokens_seen = tokens;
    const std::string line =
        progress_line(state, config.search, std::chrono::duration<double>(Clock::now() - start).count());
    if (live) {
      std::cerr << "\r" << line << "   " << std::flush;
    } else {
      log::info(line);
    }
  };
  StopSignal stop_signal;
  Runner runner(config.search, *problem, settings);
  RunResult run = runner.run(coefficient_problem ? coefficient_problem->initial_particles().to(device) : experts,
                             on_iteration);
  if (live) std::cerr << "\n";
  if (run.outcome == RunOutcome::kInterrupted)
    throw Error(cat("interrupted after iteration ", run.state.iteration, "; resume with: ", settings.resume_command));
  const swarm::State& state = run.state;
  log::info(cat("search finished (", swarm::to_string(state.stop_reason), ") after ", state.iteration,
                " iterations; best dev utility ", state.global_best_utility));

  // ---- the returned adapters ----
  const std::string base_name =
      pool.base_model_name_or_path.empty() ? config.base_model.string() : pool.base_model_name_or_path;
  const json written = write_search_outputs(run_dir, pool.layout, state, config.top_k, base_name, to_position);

  // ---- test-split utilities of the returned adapters and of the baselines, in one batched call ----
  const int64_t n = pool.size();
  std::vector<at::Tensor> rows;
  for (const auto& w : written) rows.push_back(to_position(w["rank"].get<int64_t>() == 0
                                                               ? state.global_best
                                                               : state.personal_best[w["particle"].get<int64_t>()]));
  const size_t first_expert = rows.size();
  for (int64_t e = 0; e < n; ++e) rows.push_back(experts[e]);
  rows.push_back(experts.mean(0));
  std::vector<double> test(rows.size(), std::nan(""));
  if (info.test_examples > 0)
    test = utility->score(*evaluator, at::stack(rows).to(model_dtype), utility::Split::kTest).utility;

  // ---- report.json ----
  json report = search_summary(state, config.search, config.top_k);
  const double average_dev = run.metadata.value("uniform_average_dev", json()).is_number()
                                 ? run.metadata["uniform_average_dev"].get<double>()
                                 : std::nan("");
  const auto& initial = state.history.front().utilities;  // iteration 0: experts are particles 0..n-1
  json experts_json = json::array();
  double best_expert_dev = -INFINITY, best_expert_test = -INFINITY;
  for (int64_t e = 0; e < n; ++e) {
    const double dev = initial.at(e);
    const double t = test[first_expert + e];
    if (std::isfinite(dev)) best_expert_dev = std::max(best_expert_dev, dev);
    if (std::isfinite(t)) best_expert_test = std::max(best_expert_test, t);
    experts_json.push_back({{"name", pool.names[e]}, {"path", config.experts[e].string()}, {"dev", number(dev)},
                            {"test", number(t)}});
  }
  const double best_dev = state.global_best_utility, best_test = test[0], average_test = test[first_expert + n];
  report["best"]["test"] = number(best_test);
  report["best"]["path"] = (run_dir / "best").string();
  for (size_t r = 1; r < written.size(); ++r) {
    report["top_k"][r - 1]["test"] = number(test[r]);
    report["top_k"][r - 1]["path"] = written[r]["dir"];
  }
  double search_seconds = 0;
  int64_t evaluated_tokens = 0;
  for (const auto& record : state.history) {
    search_seconds += record.wall_time_s;
    evaluated_tokens += record.extra.value("tokens", int64_t(0));
  }
  report["versions"] = {{"modelswarm", MODELSWARM_VERSION}, {"torch", TORCH_VERSION}};
  report["config"] = config.raw;
  report["config_path"] = config.source.string();
  report["device"] = device.str();
  report["dtype"] = dtype_name(model_dtype);
  report["space"] = config.space == SearchSpace::kCoefficients ? "coefficients" : "parameters";
  report["utility"] = {{"type", info.type}, {"metric", info.metric}, {"description", info.description},
                       {"dev_examples", info.dev_examples}, {"test_examples", info.test_examples}};
  report["experts"] = experts_json;
  report["uniform_average"] = {{"dev", number(average_dev)}, {"test", number(average_test)}};
  report["improvement"] = {{"dev_over_best_expert", number(best_dev - best_expert_dev)},
                           {"dev_over_uniform_average", number(best_dev - average_dev)},
                           {"test_over_best_expert", number(best_test - best_expert_test)},
                           {"test_over_uniform_average", number(best_test - average_test)}};
  report["evaluated_tokens"] = evaluated_tokens;
  report["search_time_s"] = search_seconds;
  report["seconds_per_iteration"] = number(search_seconds / static_cast<double>(state.history.size()));
  report["wall_time_s"] = std::chrono::duration<double>(Clock::now() - start).count();
  write_report(run_dir, report);
  const fs::path html = report::write_html_report(run_dir);
  log::info(cat("best adapter: ", (run_dir / "best").string(), "; report: ", (run_dir / "report.json").string(), " and ",
                html.string()));

  SearchResult result;
  result.report = std::move(report);
  if (flags.expect_min_utility && !(best_dev >= *flags.expect_min_utility)) {
    log::error(cat("best dev utility ", best_dev, " is below --expect-min-utility ", *flags.expect_min_utility));
    result.exit_code = static_cast<int>(ExitCode::kBelowExpectation);
  }
  return result;
}

}  // namespace modelswarm::search
