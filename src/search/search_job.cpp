#include "modelswarm/search/search_job.h"

#include <ATen/ATen.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>

#include "modelswarm/common/device.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/formats/hf_cache.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/lora/merge.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/report/html_report.h"
#include "modelswarm/search/candidates.h"
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

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// The baselines a search scores beside its particles: each expert, their uniform average, and
// the configured merges, as full positions on the experts' device.
std::vector<Candidate> baseline_candidates(const lora::ExpertPool& pool, const at::Tensor& experts,
                                           const BaselineOptions& options) {
  std::vector<Candidate> out;
  for (int64_t e = 0; e < pool.size(); ++e)
    out.push_back({CandidateKind::kExpert, pool.names[e], experts[e]});
  out.push_back({CandidateKind::kUniformAverage, "uniform average", experts.mean(0)});
  lora::MergeOptions merge_options;
  merge_options.density = options.density;
  merge_options.seed = options.seed;
  for (const auto& method : options.merges)
    out.push_back({CandidateKind::kMerge, method, lora::merge(method, pool, merge_options).to(experts.device())});
  return out;
}

// The key under which a baseline's dev utility is kept in the checkpoint's metadata.
std::string baseline_key(const Candidate& c) { return to_string(c.kind) + ":" + c.name; }

// Each candidate's utility on a split, in one batched call; NaN when the split is empty.
std::vector<double> score_split(utility::Utility& utility, model::Evaluator& evaluator,
                                const std::vector<Candidate>& candidates, utility::Split split,
                                c10::ScalarType model_dtype) {
  if (utility.info().examples(split) == 0 || candidates.empty()) return std::vector<double>(candidates.size(), std::nan(""));
  std::vector<at::Tensor> rows;
  for (const auto& c : candidates) rows.push_back(c.position);
  return utility.score(evaluator, at::stack(rows).to(model_dtype), split).utility;
}

// The particles the swarm starts from: the experts (one-hot mixes in the coefficient space),
// and their uniform average when it is to join and the swarm has room for it.
at::Tensor initial_particles(const at::Tensor& experts,
                             const swarm::CoefficientProblem* coefficients, bool with_average) {
  const at::Tensor own = coefficients ? coefficients->initial_particles().to(experts.device()) : experts;
  if (!with_average) return own;
  return at::cat({own, own.mean(0, /*keepdim=*/true)});
}

}  // namespace

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

// ---- step 1: load -----------------------------------------------------------------------------

// Everything a search works with, loaded and checked: the pool, the utility and its data, the
// engine, the problem the algorithm optimises, and the baselines scored beside it.
struct LoadedJob {
  const TaskConfig* config = nullptr;
  lora::ExpertPool pool;
  std::unique_ptr<utility::Utility> utility;
  utility::UtilityInfo info;
  std::unique_ptr<model::Evaluator> evaluator;
  at::Tensor experts;  // (n, D) fp32 on the engine's device
  std::unique_ptr<DevUtilityProblem> positions_problem;
  std::unique_ptr<swarm::CoefficientProblem> coefficient_problem;
  swarm::Problem* problem = nullptr;  // one of the two above
  PositionMap to_position;
  std::vector<Candidate> baselines;   // experts, uniform average, merges (baseline_candidates)
  bool average_in_swarm = false;      // the uniform average is row n of the first iteration

  int64_t n() const { return pool.size(); }
  c10::ScalarType model_dtype() const { return evaluator->dtype(); }
};

std::unique_ptr<LoadedJob> load_job(const TaskConfig& config) {
  auto job = std::make_unique<LoadedJob>();
  job->config = &config;
  // The pool is checked against the base model's weight shapes before anything heavy is loaded.
  job->pool = lora::ExpertPool::load(config.experts, lora::base_shapes_of(config.base_model));
  const lora::ExpertPool& pool = job->pool;
  log::info(cat("expert pool: ", pool.size(), " experts, ", pool.layout.slots().size(), " modules, D = ",
                pool.layout.dim(), " numbers per particle"));

  const model::EngineOptions engine_options{config.device, config.dtype, config.max_batch_tokens};
  // Data files are read and checked here, before the model is loaded.
  job->utility = utility::make_utility(config.utility, config.source.string(),
                                       utility::task_context(config.source, engine_options));
  job->info = job->utility->info();
  const auto& info = job->info;
  log::info(cat("utility: ", info.description, " (", info.dev_examples, " dev, ", info.validation_examples,
                " validation, ", info.test_examples, " test examples)"));
  job->evaluator = model::load_evaluator(config.base_model, &pool.layout, engine_options);

  // The algorithm optimises positions, or mixing coefficients over the experts (LoraHub-style).
  job->experts = pool.weights.to(job->evaluator->device());
  job->positions_problem =
      std::make_unique<DevUtilityProblem>(*job->evaluator, *job->utility, pool.layout.dim(), job->model_dtype());
  job->problem = job->positions_problem.get();
  job->to_position = [](const at::Tensor& x) { return x; };
  if (config.space == SearchSpace::kCoefficients) {
    job->coefficient_problem = std::make_unique<swarm::CoefficientProblem>(*job->positions_problem, job->experts);
    job->problem = job->coefficient_problem.get();
    job->to_position = [problem = job->coefficient_problem.get()](const at::Tensor& x) {
      return problem->to_positions(x);
    };
  }

  job->baselines = baseline_candidates(pool, job->experts, config.baselines);
  const int64_t swarm_size = config.algorithm->common().swarm_size;
  job->average_in_swarm = config.include_uniform_average && swarm_size > job->n();
  if (config.include_uniform_average && !job->average_in_swarm)
    log::info(cat("search.swarm_size (", swarm_size, ") leaves no room for the uniform average beside the ", job->n(),
                  " experts: it is scored as a baseline only"));
  return job;
}

// ---- step 2: search ---------------------------------------------------------------------------

// Scores the baselines that are not rows of the first iteration on dev (a fresh run only: the
// checkpoint keeps them), then runs or resumes the algorithm to its end.
RunResult run_algorithm(LoadedJob& job, const SearchFlags& flags, Clock::time_point start) {
  const TaskConfig& config = *job.config;
  const swarm::Algorithm& algorithm = *config.algorithm;
  RunSettings settings;
  settings.run_dir = config.output_dir;
  settings.resume = flags.resume;
  settings.take_lock = false;
  settings.resume_command = cat("modelswarm search --config ", config.source.string(), " --resume");
  if (!flags.resume && !swarm::checkpoint_exists(config.output_dir / "checkpoint")) {
    settings.metadata["uniform_average_in_swarm"] = job.average_in_swarm;
    std::vector<Candidate> outside;  // baselines that are not rows of the first iteration
    for (const auto& b : job.baselines)
      if (b.kind == CandidateKind::kMerge || (b.kind == CandidateKind::kUniformAverage && !job.average_in_swarm))
        outside.push_back(b);
    const std::vector<double> dev =
        score_split(*job.utility, *job.evaluator, outside, utility::Split::kDev, job.model_dtype());
    for (size_t i = 0; i < outside.size(); ++i) {
      settings.metadata["baselines_dev"][baseline_key(outside[i])] = number(dev[i]);
      log::info(cat("baseline ", outside[i].name, ": dev utility ", dev[i]));
    }
  }

  const bool live = flags.progress_line && ::isatty(STDERR_FILENO);
  int64_t tokens_seen = job.evaluator->tokens_processed();
  auto on_iteration = [&](swarm::State& state) {
    const int64_t tokens = job.evaluator->tokens_processed();
    state.history.back().extra["tokens"] = tokens - tokens_seen;
    tokens_seen = tokens;
    const std::string line =
        progress_line(state, algorithm, std::chrono::duration<double>(Clock::now() - start).count());
    if (live) {
      std::cerr << "\r" << line << "   " << std::flush;
    } else {
      log::info(line);
    }
  };
  StopSignal stop_signal;
  log::info(cat("search algorithm: ", algorithm.name(), " (", swarm::algorithm_summary(algorithm.name()), ")"));
  Runner runner(algorithm, *job.problem, settings);
  RunResult run = runner.run(initial_particles(job.experts, job.coefficient_problem.get(), job.average_in_swarm),
                             on_iteration);
  if (live) std::cerr << "\n";
  if (run.outcome == RunOutcome::kInterrupted)
    throw Error(cat("interrupted after iteration ", run.state.iteration, "; resume with: ", settings.resume_command));
  log::info(cat("search finished (", swarm::to_string(run.state.stop_reason), ") after ", run.state.iteration,
                " iterations; best dev utility ", run.state.best_utility));
  return run;
}

// ---- step 3: choose what to return and report -------------------------------------------------

struct Outcome {
  std::vector<Candidate> baselines;   // job.baselines with dev, validation and test
  std::vector<Candidate> candidates;  // the search's best, its top-k, then the baselines
  size_t chosen = 0;                  // index into candidates of the returned adapter
  SelectionSplit selection = SelectionSplit::kDev;
  std::vector<std::string> warnings;

  const Candidate& returned() const { return candidates[chosen]; }
  const Candidate& search_best() const { return candidates.front(); }
  const char* selection_name() const { return selection == SelectionSplit::kValidation ? "validation" : "dev"; }
};

// The baselines' dev utilities: the first iteration's rows, or what the checkpoint kept.
void fill_baselines_dev(std::vector<Candidate>& baselines, int64_t n, const RunResult& run) {
  const auto& initial = run.state.history.front().utilities;
  const bool average_was_row = run.metadata.value("uniform_average_in_swarm", false);
  const json stored_dev = run.metadata.value("baselines_dev", json::object());
  for (int64_t e = 0; e < n; ++e) baselines[e].dev = initial.at(e);
  for (size_t i = n; i < baselines.size(); ++i) {
    Candidate& b = baselines[i];
    const json stored = stored_dev.value(baseline_key(b), json());
    b.dev = b.kind == CandidateKind::kUniformAverage && average_was_row ? initial.at(n)
            : stored.is_number()                                      ? stored.get<double>()
                                                                      : std::nan("");
  }
}

Outcome choose_returned(LoadedJob& job, const RunResult& run) {
  const swarm::State& state = run.state;
  Outcome o;
  o.baselines = job.baselines;
  fill_baselines_dev(o.baselines, job.n(), run);

  // The search's candidates: its best, then the algorithm's top-k.
  o.candidates.push_back({CandidateKind::kSwarm, cat("global best (row ", state.best_index, ")"),
                          job.to_position(state.best), state.best_utility});
  const std::vector<swarm::Elite> elite = job.config->algorithm->elite(state, job.config->top_k);
  for (size_t r = 0; r < elite.size(); ++r)
    o.candidates.push_back({CandidateKind::kSwarm, cat("rank ", r + 1, " (", elite[r].label, ")"),
                            job.to_position(elite[r].position), elite[r].utility});
  // A row that never left an expert or the uniform average is that baseline.
  for (auto& c : o.candidates)
    for (const auto& b : o.baselines)
      if (b.kind != CandidateKind::kMerge && at::equal(c.position, b.position)) {
        c.kind = b.kind;
        c.name = b.name;
        break;
      }
  const size_t first_baseline = o.candidates.size();
  o.candidates.insert(o.candidates.end(), o.baselines.begin(), o.baselines.end());

  // Validation and test utilities of every candidate, one batched call per split.
  const auto validation =
      score_split(*job.utility, *job.evaluator, o.candidates, utility::Split::kValidation, job.model_dtype());
  const auto test = score_split(*job.utility, *job.evaluator, o.candidates, utility::Split::kTest, job.model_dtype());
  for (size_t i = 0; i < o.candidates.size(); ++i) {
    o.candidates[i].validation = validation[i];
    o.candidates[i].test = test[i];
  }
  for (size_t i = 0; i < o.baselines.size(); ++i) o.baselines[i] = o.candidates[first_baseline + i];

  o.selection = job.info.validation_examples > 0 ? SelectionSplit::kValidation : SelectionSplit::kDev;
  o.chosen = select_returned(o.candidates, o.selection);
  if (o.returned().kind != CandidateKind::kSwarm)
    log::warn(cat("the baseline ", o.returned().name, " (", to_string(o.returned().kind), ") scores higher on ",
                  o.selection_name(), " than every row the search scored: best/ is that baseline"));
  std::vector<Candidate> experts;
  for (const auto& b : o.baselines)
    if (b.kind == CandidateKind::kExpert) experts.push_back(b);
  o.warnings = overfitting_warnings(o.search_best(), experts);
  for (const auto& w : o.warnings) log::warn(w);
  return o;
}

json make_report(const LoadedJob& job, const RunResult& run, const Outcome& o, const json& written,
                 Clock::time_point start) {
  const TaskConfig& config = *job.config;
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
    experts_json.push_back({{"name", job.pool.names[e]}, {"path", config.experts[e].string()}, {"dev", number(b.dev)},
                            {"validation", number(b.validation)}, {"test", number(b.test)}});
  }
  const Candidate& average = o.baselines[n];
  json merges = json::array();
  for (size_t i = n + 1; i < o.baselines.size(); ++i) merges.push_back(o.baselines[i].to_json());
  report["swarm_best"] = report["best"];
  report["swarm_best"]["validation"] = number(o.search_best().validation);
  report["swarm_best"]["test"] = number(o.search_best().test);
  report["best"] = {{"source", to_string(returned.kind)}, {"name", returned.name}, {"selected_on", o.selection_name()},
                    {"dev", number(returned.dev)}, {"validation", number(returned.validation)},
                    {"test", number(returned.test)}, {"path", (config.output_dir / "best").string()}};
  if (returned.kind == CandidateKind::kSwarm) {
    report["best"]["particle"] = report["swarm_best"]["particle"];
    report["best"]["found_at_iteration"] = report["swarm_best"]["found_at_iteration"];
  }
  for (size_t r = 0; r < report["top_k"].size(); ++r) {
    report["top_k"][r]["validation"] = number(o.candidates[1 + r].validation);
    report["top_k"][r]["test"] = number(o.candidates[1 + r].test);
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
  report["space"] = config.space == SearchSpace::kCoefficients ? "coefficients" : "parameters";
  report["utility"] = {{"type", info.type}, {"metric", info.metric}, {"description", info.description},
                       {"dev_examples", info.dev_examples}, {"validation_examples", info.validation_examples},
                       {"test_examples", info.test_examples}};
  report["experts"] = experts_json;
  report["sources"] = {{"base_model", hf::describe_source(config.base_model)},
                       {"experts", hf::describe_sources(config.experts)}};
  report["uniform_average"] = {{"dev", number(average.dev)}, {"validation", number(average.validation)},
                               {"test", number(average.test)},
                               {"in_swarm", run.metadata.value("uniform_average_in_swarm", false)}};
  report["baselines"] = merges;
  report["warnings"] = o.warnings;
  report["improvement"] = {{"dev_over_best_expert", number(returned.dev - best_expert_dev)},
                           {"dev_over_uniform_average", number(returned.dev - average.dev)},
                           {"test_over_best_expert", number(returned.test - best_expert_test)},
                           {"test_over_uniform_average", number(returned.test - average.test)}};
  report["evaluated_tokens"] = evaluated_tokens;
  report["search_time_s"] = search_seconds;
  report["seconds_per_iteration"] = number(search_seconds / static_cast<double>(state.history.size()));
  report["wall_time_s"] = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace

SearchResult run_search(const TaskConfig& config, const SearchFlags& flags) {
  const auto start = Clock::now();
  const fs::path run_dir = config.output_dir;
  check_baselines(config);
  // Locked first: a second search on this directory is refused before it loads anything or
  // writes a line into this run's log.
  const RunLock lock = RunLock::acquire(run_dir);
  add_log_file((run_dir / "search.log").string());
  log::info(cat(flags.resume ? "resuming" : "starting", " search: config ", config.source.string(), ", run directory ",
                run_dir.string()));

  const std::unique_ptr<LoadedJob> job = load_job(config);
  const RunResult run = run_algorithm(*job, flags, start);
  const Outcome outcome = choose_returned(*job, run);

  const Candidate& returned = outcome.returned();
  const std::string base_name =
      job->pool.base_model_name_or_path.empty() ? config.base_model.string() : job->pool.base_model_name_or_path;
  const ReturnedAdapter returned_adapter{
      returned.position,
      {{"role", "returned"}, {"source", to_string(returned.kind)}, {"name", returned.name},
       {"selected_on", outcome.selection_name()}, {"dev", number(returned.dev)},
       {"validation", number(returned.validation)}, {"test", number(returned.test)}}};
  const json written = write_search_outputs(run_dir, job->pool.layout, *config.algorithm, run.state, config.top_k,
                                            base_name, job->to_position, &returned_adapter);
  json report = make_report(*job, run, outcome, written, start);
  write_report(run_dir, report);
  const fs::path html = report::write_html_report(run_dir);
  std::string scores = cat("dev ", returned.dev);
  if (std::isfinite(returned.validation)) scores += cat(", validation ", returned.validation);
  if (std::isfinite(returned.test)) scores += cat(", test ", returned.test);
  log::info(cat("returned adapter: ", returned.name, " (", to_string(returned.kind), "), ", scores));
  log::info(cat("best adapter: ", (run_dir / "best").string(), "; report: ", (run_dir / "report.json").string(), " and ",
                html.string()));

  SearchResult result;
  result.report = std::move(report);
  if (flags.expect_min_utility && !(returned.dev >= *flags.expect_min_utility)) {
    log::error(cat("best dev utility ", returned.dev, " is below --expect-min-utility ", *flags.expect_min_utility));
    result.exit_code = static_cast<int>(ExitCode::kBelowExpectation);
  }
  return result;
}

}  // namespace modelswarm::search
