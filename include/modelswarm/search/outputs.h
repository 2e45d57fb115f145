// What a search leaves in its run directory besides checkpoints:
//   best/            the returned adapter (the search's best, or a baseline: candidates.h)
//   top_k/<rank>/    the algorithm's k best positions (rank 1 = best) as PEFT adapters
//   report.json      the run's summary (search_summary + whatever the caller adds)
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/swarm/state.h"

namespace modelswarm::search {

/// Maps a particle (D') to a full flat position (D) of the pool layout; identity in the
/// parameter space, CoefficientProblem::to_positions in the coefficient space.
using PositionMap = std::function<at::Tensor(const at::Tensor&)>;

/// Writes one position (D) as a PEFT adapter directory (atomically); `metadata` goes under
/// "modelswarm" in adapter_config.json.
void write_particle_adapter(const std::filesystem::path& directory, const lora::PoolLayout& layout,
                            const at::Tensor& position, const std::string& base_model_name_or_path,
                            const nlohmann::json& metadata = nlohmann::json::object());

/// What best/ holds when it is not the swarm's global best (a baseline won: candidates.h).
struct ReturnedAdapter {
  at::Tensor position;      // (D) full position
  nlohmann::json metadata;  // under "modelswarm" in its adapter_config.json
};

/// Writes best/ and top_k/1..k (the algorithm's elite, at most k); returns what was written, as
/// [{"rank", "particle", "dev", "dir"}] with rank 0 meaning best/. best/ is the search's best, or
/// `returned` when given.
nlohmann::json write_search_outputs(const std::filesystem::path& run_dir, const lora::PoolLayout& layout,
                                    const swarm::Algorithm& algorithm, const swarm::State& state, int64_t top_k,
                                    const std::string& base_model_name_or_path,
                                    const PositionMap& to_position = nullptr,
                                    const ReturnedAdapter* returned = nullptr);

/// The search's part of report.json: algorithm, seed, search (every option), iterations,
/// stopped_because, evaluations, the algorithm's own figures (e.g. restarts), best {"dev",
/// "particle", "found_at_iteration"}, top_k [{"rank", "particle", "label", "dev"}].
nlohmann::json search_summary(const swarm::Algorithm& algorithm, const swarm::State& state, int64_t top_k);

/// Writes RUN_DIR/report.json atomically (pretty-printed).
void write_report(const std::filesystem::path& run_dir, const nlohmann::json& report);

}  // namespace modelswarm::search
