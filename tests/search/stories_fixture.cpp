#include "search/stories_fixture.h"

#include <unistd.h>

#include <fstream>

#include "test_utils.h"

namespace modelswarm::test {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// `modelswarm convert` of stories260K into build/oracle-cache, once for all test processes: a
// process converts into its own temporary sibling and renames it into place.
fs::path converted_stories() {
  const fs::path dir = fs::path(MODELSWARM_BINARY_DIR) / "oracle-cache" / "stories260K-hf";
  if (fs::exists(dir / "model.safetensors")) return dir;
  const fs::path tmp = dir.parent_path() / ("stories260K-hf.tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp.parent_path());
  const fs::path fixture = shared_dir() / "fixtures" / "stories260K";
  const auto converted = run_cli({"convert", "llama2c", (fixture / "stories260K.bin").string(),
                                  (fixture / "tok512.model").string(), tmp.string()});
  if (converted.exit_code != 0) {
    ADD_FAILURE() << converted.output;
    return {};
  }
  std::error_code ec;
  fs::rename(tmp, dir, ec);  // another process may have won the race: use its copy
  if (ec) fs::remove_all(tmp);
  return dir;
}

}  // namespace

const StoriesPool& stories_pool() {
  static const StoriesPool pool = [] {
    StoriesPool p;
    p.model = converted_stories();
    if (p.model.empty()) return p;
    const fs::path experts = cached_oracle("stories-experts", "stories_experts.py", {p.model.string(), "5"});
    if (experts.empty()) return p;
    for (int e = 0; e < 5; ++e) p.experts.push_back(experts / ("expert" + std::to_string(e)));
    return p;
  }();
  return pool;
}

fs::path write_stories_task(const fs::path& dir, const json& overrides) {
  const auto& pool = stories_pool();
  json experts = json::array();
  for (const auto& e : pool.experts) experts.push_back(e.string());
  json config = {
      {"base_model", pool.model.string()},
      {"experts", experts},
      {"device", "cpu"},
      {"dtype", "float32"},  // exact: several tests compare against PEFT or bit for bit
      {"utility", {{"type", "multiple_choice"}, {"metric", "acc_norm"},
                   {"data", {{"path", (source_dir() / "configs" / "data" / "stories_mc.jsonl").string()},
                             {"dev_size", 24}, {"test_size", 16}}}}},
      {"search", {{"swarm_size", 8}, {"max_iterations", 4}, {"patience", 10}, {"seed", 3}}},
      {"output", {{"dir", (dir / "run").string()}, {"top_k", 2}}},
  };
  config.merge_patch(overrides);
  std::ofstream(dir / "task.json") << config.dump(2);
  return dir / "task.json";
}

}  // namespace modelswarm::test
