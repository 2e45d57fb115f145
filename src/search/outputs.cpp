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

// The iteration at which the best utility was first reached (history is monotone in it).
int64_t found_at_iteration(const swarm::State& s) {
  for (const auto& record : s.history)
    if (record.best == s.best_utility) return record.iteration;
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

json write_search_outputs(const fs::path& run_dir, const lora::PoolLayout& layout, const swarm::Algorithm& algorithm,
                          const swarm::State& s, int64_t top_k, const std::string& base_model_name_or_path,
                          const PositionMap& to_position, const ReturnedAdapter* returned) {
  auto full = [&](const at::Tensor& row) { return to_position ? to_position(row) : row; };
  json written = json::array();
  const fs::path best_dir = run_dir / "best";
  if (returned)
    write_particle_adapter(best_dir, layout, returned->position, base_model_name_or_path, returned->metadata);
  else
    write_particle_adapter(best_dir, layout, full(s.best), base_model_name_or_path,
                           {{"role", "global_best"},
                            {"particle", s.best_index},
                            {"dev", swarm::utility_to_json(s.best_utility)},
                            {"iteration", found_at_iteration(s)}});
  written.push_back({{"rank", 0}, {"particle", s.best_index}, {"dev", swarm::utility_to_json(s.best_utility)},
                     {"dir", best_dir.string()}});

  std::error_code ec;
  fs::remove_all(run_dir / "top_k", ec);  // a resumed run's ranks replace the old ones entirely
  int64_t rank = 0;
  for (const swarm::Elite& e : algorithm.elite(s, top_k)) {
    const fs::path dir = run_dir / "top_k" / std::to_string(++rank);
    fs::create_directories(dir.parent_path(), ec);
    write_particle_adapter(dir, layout, full(e.position), base_model_name_or_path,
                           {{"role", "elite"},
                            {"rank", rank},
                            {"particle", e.row},
                            {"label", e.label},
                            {"dev", swarm::utility_to_json(e.utility)}});
    written.push_back({{"rank", rank}, {"particle", e.row}, {"dev", swarm::utility_to_json(e.utility)},
                       {"dir", dir.string()}});
  }
  return written;
}

json search_summary(const swarm::Algorithm& algorithm, const swarm::State& s, int64_t top_k) {
  json top = json::array();
  int64_t rank = 0;
  for (const swarm::Elite& e : algorithm.elite(s, top_k))
    top.push_back({{"rank", ++rank}, {"particle", e.row}, {"label", e.label}, {"dev", swarm::utility_to_json(e.utility)}});
  json summary = {{"algorithm", algorithm.name()},
                  {"seed", algorithm.common().seed},
                  {"search", swarm::to_json(algorithm)},
                  {"swarm_size", s.size()},
                  {"dimension", s.dimension()},
                  {"iterations", s.iteration},
                  {"stopped_because", swarm::to_string(s.stop_reason)},
                  {"evaluations", s.evaluations},
                  {"best",
                   {{"dev", swarm::utility_to_json(s.best_utility)},
                    {"particle", s.best_index},
                    {"found_at_iteration", found_at_iteration(s)}}},
                  {"top_k", top}};
  const json own = algorithm.summary(s);
  for (const auto& [key, value] : own.items()) summary[key] = value;
  return summary;
}

void write_report(const fs::path& run_dir, const json& report) {
  write_text_atomic(run_dir / "report.json", report.dump(2) + "\n");
}

}  // namespace modelswarm::search
