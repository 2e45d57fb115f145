// Private to src/search: the steps a search job is made of, shared by `search` (search_job.cpp)
// and `sweep` (sweep_job.cpp), which runs many searches over one loaded job.
//
//   load_job          the pool, the utility and its data, the engine, the problem, the baselines
//   begin_outcome     a finished run's candidates: its best, its top-k, then the baselines
//   score_outcomes    their validation and test utilities, every outcome's in one batched call
//   select_outcome    the returned adapter and the overfitting warnings
//   write_run_outputs best/, top_k/, report.json and report.html in a run directory
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modelswarm/config/task_config.h"
#include "modelswarm/dist/rank_problem.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/search/candidates.h"
#include "modelswarm/search/outputs.h"
#include "modelswarm/search/runner.h"
#include "modelswarm/swarm/coefficients.h"
#include "modelswarm/swarm/problem.h"
#include "modelswarm/swarm/sharded_problem.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::search {

using Clock = std::chrono::steady_clock;

/// A finite number, or null (JSON has no NaN or infinity).
nlohmann::json number_or_null(double v);

// The LLM as a swarm::Problem: positions (M, D) scored by the configured utility on the dev split.
class DevUtilityProblem : public swarm::Problem {
 public:
  DevUtilityProblem(model::Evaluator& evaluator, utility::Utility& utility, int64_t dimension,
                    c10::ScalarType model_dtype)
      : evaluator_(evaluator), utility_(utility), dimension_(dimension), model_dtype_(model_dtype) {}

  int64_t dimension() const override { return dimension_; }
  std::vector<double> evaluate(const at::Tensor& positions) override;
  std::string name() const override { return utility_.info().description; }

 private:
  model::Evaluator& evaluator_;
  utility::Utility& utility_;
  int64_t dimension_;
  c10::ScalarType model_dtype_;
};

/// Everything a search works with, loaded and checked: the pool, the utility and its data, the
/// engine, the problem the algorithm optimises, and the baselines scored beside it.
struct LoadedJob {
  const TaskConfig* config = nullptr;  // the config it was loaded from
  lora::ExpertPool pool;
  std::unique_ptr<utility::Utility> utility;
  utility::UtilityInfo info;
  std::unique_ptr<model::Evaluator> evaluator;
  at::Tensor experts;  // (n, D) fp32 on the engine's device
  std::unique_ptr<DevUtilityProblem> positions_problem;
  /// More devices of this process (`device` as a list): a model, utility and problem on each.
  struct Replica {
    std::string device;
    std::unique_ptr<utility::Utility> utility;
    std::unique_ptr<model::Evaluator> evaluator;
    std::unique_ptr<DevUtilityProblem> problem;
  };
  std::vector<Replica> replicas;
  std::unique_ptr<swarm::ShardedProblem> sharded_problem;        // positions over every device
  std::unique_ptr<swarm::CoefficientProblem> coefficient_problem;
  std::unique_ptr<dist::RankShardedProblem> rank_problem;        // over the ranks of a distributed run
  swarm::Problem* problem = nullptr;  // the outermost of the above: what the algorithm optimises
  PositionMap to_position;
  std::vector<Candidate> baselines;   // experts, uniform average, merges

  int64_t n() const { return pool.size(); }
  c10::ScalarType model_dtype() const { return evaluator->dtype(); }
  /// Whether a search with these options starts with the uniform average as row n (it needs
  /// room beside the experts).
  bool average_in_swarm(const TaskConfig& config) const;
  /// The rows a search starts from: the experts (one-hot mixes in the coefficient space), then
  /// their uniform average when average_in_swarm.
  at::Tensor initial_particles(const TaskConfig& config) const;
  /// The base model's name for adapter_config.json.
  std::string base_model_name(const TaskConfig& config) const;
};

/// Loads the job; with `ranks`, on this rank's device, its rows shared with the other ranks.
std::unique_ptr<LoadedJob> load_job(const TaskConfig& config, dist::RankGroup* ranks = nullptr);

/// The devices this process uses: the config's list, or in a distributed run the one of its
/// LOCAL_RANK ("auto"/"cuda" as cuda:(LOCAL_RANK modulo the visible GPUs) when CUDA is there,
/// a list's entry LOCAL_RANK modulo its length).
std::vector<std::string> devices_of_this_process(const TaskConfig& config, const dist::World& world);

/// A hash of what a rank runs (its config and modelswarm's version), compared at rendezvous.
std::string run_fingerprint(const TaskConfig& config);

/// This process's place in a distributed run (world.h): none in a single process.
struct Ranks {
  dist::World world;
  std::unique_ptr<dist::RankGroup> group;  // null in a single process
  bool writer() const { return world.writer(); }
};

/// Meets the other ranks when WORLD_SIZE > 1 (a rank with another config is refused), and quiets
/// the log of every rank but 0, which tells the story.
Ranks join_ranks(const TaskConfig& config);

/// Whether to stop after this iteration: this process's request, or with ranks any rank's (every
/// rank then stops after the same iteration).
bool agree_to_stop(dist::RankGroup* group, bool requested, int64_t iteration);

/// The key under which a baseline's dev utility is kept in a checkpoint's metadata.
std::string baseline_key(const Candidate& c);

/// Rows with the ones equal bit for bit kept once: `unique` in order of first appearance, and for
/// each input row the index of its copy in `unique`.
struct UniqueRows {
  std::vector<at::Tensor> unique;
  std::vector<size_t> slot;
};
UniqueRows unique_rows(const std::vector<at::Tensor>& rows);

/// Each position's utility on a split: identical rows are scored once, all of them in one
/// batched call. NaN for every row when the split is empty.
std::vector<double> score_positions(LoadedJob& job, const std::vector<at::Tensor>& positions, utility::Split split);

/// The baselines that are not rows of a search's first iteration (the merges; the uniform average
/// unless it is in the swarm), scored on dev into metadata["baselines_dev"]; also sets
/// metadata["uniform_average_in_swarm"].
void score_outside_baselines(LoadedJob& job, bool average_in_swarm, nlohmann::json& metadata);

/// What a finished run returns and why.
struct Outcome {
  std::vector<Candidate> baselines;   // job.baselines with their utilities
  std::vector<Candidate> candidates;  // the search's best, its top-k, then the baselines
  size_t chosen = 0;                  // index into candidates of the returned adapter
  SelectionSplit selection = SelectionSplit::kDev;
  std::vector<std::string> warnings;

  const Candidate& returned() const { return candidates[chosen]; }
  const Candidate& search_best() const { return candidates.front(); }
  const char* selection_name() const { return selection == SelectionSplit::kValidation ? "validation" : "dev"; }
};

/// A finished run's candidates with their dev utilities (validation and test not yet scored).
Outcome begin_outcome(const LoadedJob& job, const TaskConfig& config, const RunResult& run);
/// Scores validation and test of every outcome's candidates, one batched call per split.
void score_outcomes(LoadedJob& job, const std::vector<Outcome*>& outcomes);
/// Chooses the returned adapter (candidates.h) and works out the warnings; logs them when `log_them`.
void select_outcome(Outcome& outcome, bool log_them);

/// Writes best/ (the returned adapter), top_k/, report.json and report.html into
/// config.output_dir; returns the report, to which `extra`'s fields are added.
nlohmann::json write_run_outputs(const LoadedJob& job, const TaskConfig& config, const RunResult& run,
                                 const Outcome& outcome, Clock::time_point start,
                                 const nlohmann::json& extra = nlohmann::json::object());

}  // namespace modelswarm::search
