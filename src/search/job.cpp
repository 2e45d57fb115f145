#include "search/job.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "modelswarm/common/device.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/common/strings.h"
#include "modelswarm/lora/merge.h"

namespace modelswarm::search {
using nlohmann::json;

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::vector<double> DevUtilityProblem::evaluate(const at::Tensor& positions) {
  return utility_.score(evaluator_, positions.to(model_dtype_), utility::Split::kDev).utility;
}

namespace {

// The baselines a search scores beside its particles: each expert, their uniform average, and
// the configured merges, as full positions on the experts' device.
std::vector<Candidate> baseline_candidates(const lora::ExpertPool& pool, const at::Tensor& experts,
                                           const BaselineOptions& options) {
  std::vector<Candidate> out;
  for (int64_t e = 0; e < pool.size(); ++e) out.push_back({CandidateKind::kExpert, pool.names[e], experts[e]});
  out.push_back({CandidateKind::kUniformAverage, "uniform average", experts.mean(0)});
  lora::MergeOptions merge_options;
  merge_options.density = options.density;
  merge_options.seed = options.seed;
  for (const auto& method : options.merges)
    out.push_back({CandidateKind::kMerge, method, lora::merge(method, pool, merge_options).to(experts.device())});
  return out;
}

}  // namespace

UniqueRows unique_rows(const std::vector<at::Tensor>& rows) {
  UniqueRows out;
  std::vector<at::Tensor> host;  // the unique rows' bytes, compared on the host
  std::unordered_multimap<size_t, size_t> by_hash;  // hash of a unique row's bytes -> its index
  for (const auto& row : rows) {
    const at::Tensor bytes = row.to(at::kCPU).contiguous();
    const size_t hash = std::hash<std::string_view>{}(
        std::string_view(static_cast<const char*>(bytes.data_ptr()), bytes.nbytes()));
    std::optional<size_t> copy;
    const auto [begin, end] = by_hash.equal_range(hash);
    for (auto it = begin; it != end && !copy; ++it) {
      const at::Tensor& other = host[it->second];
      if (other.nbytes() == bytes.nbytes() && other.scalar_type() == bytes.scalar_type() &&
          std::memcmp(other.data_ptr(), bytes.data_ptr(), bytes.nbytes()) == 0)
        copy = it->second;
    }
    if (!copy) {
      copy = out.unique.size();
      by_hash.emplace(hash, *copy);
      host.push_back(bytes);
      out.unique.push_back(row);
    }
    out.slot.push_back(*copy);
  }
  return out;
}

bool LoadedJob::average_in_swarm(const TaskConfig& c) const {
  return c.include_uniform_average && c.algorithm->common().swarm_size > n();
}

at::Tensor LoadedJob::initial_particles(const TaskConfig& c) const {
  const at::Tensor own = coefficient_problem ? coefficient_problem->initial_particles().to(experts.device()) : experts;
  if (!average_in_swarm(c)) return own;
  return at::cat({own, own.mean(0, /*keepdim=*/true)});
}

std::string LoadedJob::base_model_name(const TaskConfig& c) const {
  return pool.base_model_name_or_path.empty() ? c.base_model.string() : pool.base_model_name_or_path;
}

std::vector<std::string> devices_of_this_process(const TaskConfig& config, const dist::World& world) {
  const std::vector<std::string> all = expand_devices(config.devices);
  if (!world.distributed()) return all;
  const std::string& mine = all[static_cast<size_t>(world.local_rank) % all.size()];
  if ((mine == "auto" || mine == "cuda") && at::hasCUDA()) {
    // A rank may see every GPU of its node (torchrun) or only its own (Slurm's --gpus-per-task).
    const int64_t visible = std::max<int64_t>(1, static_cast<int64_t>(expand_devices({"cuda:all"}).size()));
    return {cat("cuda:", world.local_rank % visible)};
  }
  return {mine};
}

std::string run_fingerprint(const TaskConfig& config) {
  json what = config.raw;
  what["modelswarm"] = MODELSWARM_VERSION;
  std::ostringstream hex;
  hex << std::hex << std::hash<std::string>{}(what.dump());
  return hex.str();
}

Ranks join_ranks(const TaskConfig& config) {
  Ranks ranks;
  ranks.world = dist::World::from_environment();
  if (!ranks.world.distributed()) return ranks;
  ranks.group = std::make_unique<dist::RankGroup>(ranks.world, std::chrono::seconds(config.rank_timeout_s));
  ranks.group->check_same_run(run_fingerprint(config));
  log::info(cat("rank ", ranks.world.rank, " of ", ranks.world.world_size, " (local rank ", ranks.world.local_rank, ")"));
  if (!ranks.writer()) setup_logging(Verbosity::kQuiet);
  return ranks;
}

bool agree_to_stop(dist::RankGroup* group, bool requested, int64_t iteration) {
  if (!group) return requested;
  for (const auto& flag : group->exchange(cat("stop after ", iteration), requested ? "1" : "0"))
    if (flag == "1") return true;
  return false;
}

namespace {

// The scorer of one device: its own utility (data read and checked again) and engine.
LoadedJob::Replica load_replica(const TaskConfig& config, const lora::ExpertPool& pool, const std::string& device,
                                int64_t dimension) {
  LoadedJob::Replica r;
  r.device = device;
  const model::EngineOptions options{device, config.dtype, config.max_batch_tokens};
  r.utility = utility::make_utility(config.utility, config.source.string(), utility::task_context(config.source, options));
  r.evaluator = model::load_evaluator(config.base_model, &pool.layout, options);
  r.problem = std::make_unique<DevUtilityProblem>(*r.evaluator, *r.utility, dimension, r.evaluator->dtype());
  return r;
}

}  // namespace

std::unique_ptr<LoadedJob> load_job(const TaskConfig& config, dist::RankGroup* ranks) {
  auto job = std::make_unique<LoadedJob>();
  job->config = &config;
  // The pool is checked against the base model's weight shapes before anything heavy is loaded.
  job->pool = lora::ExpertPool::load(config.experts, lora::base_shapes_of(config.base_model));
  const lora::ExpertPool& pool = job->pool;
  log::info(cat("expert pool: ", pool.size(), " experts, ", pool.layout.slots().size(), " modules, D = ",
                pool.layout.dim(), " numbers per particle"));

  const std::vector<std::string> devices = devices_of_this_process(config, ranks ? ranks->world() : dist::World());
  const model::EngineOptions engine_options{devices.front(), config.dtype, config.max_batch_tokens};
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
  swarm::Problem* positions = job->positions_problem.get();
  if (devices.size() > 1) {
    std::vector<swarm::Problem*> scorers = {positions};
    std::vector<std::string> names = {cat("device 0 (", devices.front(), ")")};
    for (size_t d = 1; d < devices.size(); ++d) {
      job->replicas.push_back(load_replica(config, pool, devices[d], pool.layout.dim()));
      scorers.push_back(job->replicas.back().problem.get());
      names.push_back(cat("device ", d, " (", devices[d], ")"));
    }
    job->sharded_problem = std::make_unique<swarm::ShardedProblem>(scorers, names);
    positions = job->sharded_problem.get();
    log::info(cat("each iteration's rows are split over ", devices.size(), " devices: ", join(devices, ", ")));
  }
  job->problem = positions;
  job->to_position = [](const at::Tensor& x) { return x; };
  if (config.space == SearchSpace::kCoefficients) {
    job->coefficient_problem = std::make_unique<swarm::CoefficientProblem>(*positions, job->experts);
    job->problem = job->coefficient_problem.get();
    job->to_position = [problem = job->coefficient_problem.get()](const at::Tensor& x) {
      return problem->to_positions(x);
    };
  }
  if (ranks) {
    job->rank_problem = std::make_unique<dist::RankShardedProblem>(*job->problem, *ranks);
    job->problem = job->rank_problem.get();
  }
  job->baselines = baseline_candidates(pool, job->experts, config.baselines);
  return job;
}

std::string baseline_key(const Candidate& c) { return to_string(c.kind) + ":" + c.name; }

std::vector<double> score_positions(LoadedJob& job, const std::vector<at::Tensor>& positions, utility::Split split) {
  if (job.info.examples(split) == 0 || positions.empty()) return std::vector<double>(positions.size(), std::nan(""));
  const UniqueRows rows = unique_rows(positions);
  const std::vector<double> scored =
      job.utility->score(*job.evaluator, at::stack(rows.unique).to(job.model_dtype()), split).utility;
  std::vector<double> out(positions.size());
  for (size_t i = 0; i < positions.size(); ++i) out[i] = scored.at(rows.slot[i]);
  return out;
}

void score_outside_baselines(LoadedJob& job, bool average_in_swarm, json& metadata) {
  metadata["uniform_average_in_swarm"] = average_in_swarm;
  std::vector<const Candidate*> outside;  // baselines that are not rows of the first iteration
  for (const auto& b : job.baselines)
    if (b.kind == CandidateKind::kMerge || (b.kind == CandidateKind::kUniformAverage && !average_in_swarm))
      outside.push_back(&b);
  std::vector<at::Tensor> rows;
  for (const auto* b : outside) rows.push_back(b->position);
  const std::vector<double> dev = score_positions(job, rows, utility::Split::kDev);
  for (size_t i = 0; i < outside.size(); ++i) {
    metadata["baselines_dev"][baseline_key(*outside[i])] = number_or_null(dev[i]);
    log::info(cat("baseline ", outside[i]->name, ": dev utility ", dev[i]));
  }
}

namespace {

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

}  // namespace

Outcome begin_outcome(const LoadedJob& job, const TaskConfig& config, const RunResult& run) {
  const swarm::State& state = run.state;
  Outcome o;
  o.baselines = job.baselines;
  fill_baselines_dev(o.baselines, job.n(), run);

  // The search's candidates: its best, then the algorithm's top-k.
  o.candidates.push_back({CandidateKind::kSwarm, cat("global best (row ", state.best_index, ")"),
                          job.to_position(state.best), state.best_utility});
  const std::vector<swarm::Elite> elite = config.algorithm->elite(state, config.top_k);
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
  o.candidates.insert(o.candidates.end(), o.baselines.begin(), o.baselines.end());
  o.selection = job.info.validation_examples > 0 ? SelectionSplit::kValidation : SelectionSplit::kDev;
  return o;
}

void score_outcomes(LoadedJob& job, const std::vector<Outcome*>& outcomes) {
  std::vector<at::Tensor> rows;
  for (const Outcome* o : outcomes)
    for (const auto& c : o->candidates) rows.push_back(c.position);
  const auto validation = score_positions(job, rows, utility::Split::kValidation);
  const auto test = score_positions(job, rows, utility::Split::kTest);
  size_t i = 0;
  for (Outcome* o : outcomes) {
    for (auto& c : o->candidates) {
      c.validation = validation[i];
      c.test = test[i];
      ++i;
    }
    const size_t first_baseline = o->candidates.size() - o->baselines.size();
    for (size_t b = 0; b < o->baselines.size(); ++b) o->baselines[b] = o->candidates[first_baseline + b];
  }
}

void select_outcome(Outcome& o, bool log_them) {
  o.chosen = select_returned(o.candidates, o.selection);
  std::vector<Candidate> experts;
  for (const auto& b : o.baselines)
    if (b.kind == CandidateKind::kExpert) experts.push_back(b);
  o.warnings = overfitting_warnings(o.search_best(), experts);
  if (!log_them) return;
  if (o.returned().kind != CandidateKind::kSwarm)
    log::warn(cat("the baseline ", o.returned().name, " (", to_string(o.returned().kind), ") scores higher on ",
                  o.selection_name(), " than every row the search scored: best/ is that baseline"));
  for (const auto& w : o.warnings) log::warn(w);
}

}  // namespace modelswarm::search
