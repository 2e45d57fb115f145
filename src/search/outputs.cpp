#include "modelswarm/search/outputs.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/swarm/json_number.h"

namespace modelswarm::search {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The iteration at which the global best utility was first reached (history is monotone in it).
int64_t found_at_iteration(const swarm::State& s) {
  for (const auto& record : s.history)
    if (record.global_best == s.global_best_utility) return record.iteration;
  return s.iteration;
}

}  // namespace

void write_particle_adapter(const fs::path& directory, const lora::PoolLayout& layout, const at::Tensor& position,
                            const std::string& base_model_name_or_path, const json& metadata) {
  // position (D)
  MS_CHECK(position.dim() == 1 && position.size(0) == layout.dim(), directory.string(), ": a position of ",
           position.numel(), " numbers does not fit the expert pool's layout (", layout.dim(), ")");
  lora::write_adapter(directory, layout.unflatten(position.to(at::kCPU, at::kFloat).contiguous()),
                      base_model_name_or_path, metadata);
}

json write_search_outputs(const fs::path& run_dir, const lora::PoolLayout& layout, const swarm::State& s,
                          int64_t top_k, const std::string& base_model_name_or_path, const PositionMap& to_position,
                          const ReturnedAdapter* returned) {
  auto full = [&](const at::Tensor& particle) { return to_position ? to_position(particle) : particle; };
  json written = json::array();
  const fs::path best_dir = run_dir / "best";
  if (returned)
    write_particle_adapter(best_dir, layout, returned->position, base_model_name_or_path, returned->metadata);
  else
    write_particle_adapter(best_dir, layout, full(s.global_best), base_model_name_or_path,
                           {{"role", "global_best"},
                            {"particle", s.global_best_index},
                            {"dev", swarm::utility_to_json(s.global_best_utility)},
                            {"iteration", found_at_iteration(s)}});
  written.push_back({{"rank", 0}, {"particle", s.global_best_index},
                     {"dev", swarm::utility_to_json(s.global_best_utility)}, {"dir", best_dir.string()}});

  const std::vector<int64_t> ranking = s.ranking();
  const int64_t k = std::min<int64_t>(top_k, static_cast<int64_t>(ranking.size()));
  std::error_code ec;
  fs::remove_all(run_dir / "top_k", ec);  // a resumed run's ranks replace the old ones entirely
  for (int64_t rank = 1; rank <= k; ++rank) {
    const int64_t i = ranking[rank - 1];
    const fs::path dir = run_dir / "top_k" / std::to_string(rank);
    fs::create_directories(dir.parent_path(), ec);
    write_particle_adapter(dir, layout, full(s.personal_best[i]), base_model_name_or_path,
                           {{"role", "personal_best"},
                            {"rank", rank},
                            {"particle", i},
                            {"dev", swarm::utility_to_json(s.personal_best_utilities[i])}});
    written.push_back({{"rank", rank}, {"particle", i},
                       {"dev", swarm::utility_to_json(s.personal_best_utilities[i])}, {"dir", dir.string()}});
  }
  return written;
}

json search_summary(const swarm::State& s, const swarm::Options& options, int64_t top_k) {
  int64_t restarts = 0;
  for (int64_t r : s.restart_counts) restarts += r;
  json top = json::array();
  const std::vector<int64_t> ranking = s.ranking();
  for (int64_t rank = 1; rank <= std::min<int64_t>(top_k, static_cast<int64_t>(ranking.size())); ++rank) {
    const int64_t i = ranking[rank - 1];
    top.push_back({{"rank", rank}, {"particle", i}, {"dev", swarm::utility_to_json(s.personal_best_utilities[i])}});
  }
  return {{"seed", options.seed},
          {"search", swarm::to_json(options)},
          {"swarm_size", s.size()},
          {"dimension", s.dimension()},
          {"iterations", s.iteration},
          {"stopped_because", swarm::to_string(s.stop_reason)},
          {"evaluations", s.evaluations},
          {"restarts", restarts},
          {"best",
           {{"dev", swarm::utility_to_json(s.global_best_utility)},
            {"particle", s.global_best_index},
            {"found_at_iteration", found_at_iteration(s)}}},
          {"top_k", top}};
}

void write_report(const fs::path& run_dir, const json& report) {
  write_text_atomic(run_dir / "report.json", report.dump(2) + "\n");
}

}  // namespace modelswarm::search
