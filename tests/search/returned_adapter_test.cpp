// The adapter a search returns never loses on dev to a baseline it scored: built on the demo's
// tiny Llama with two experts whose uniform average is exactly the demo's capital-2000 expert
// while each of them alone is that expert plus a large random perturbation, so their average
// beats both on the quiz.
#include <ATen/ATen.h>

#include <fstream>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/lora/expert_pool.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Writes `good` ± noise as two PEFT adapters; returns their directories.
std::vector<fs::path> opposite_experts(const fs::path& dir) {
  const lora::Adapter good = lora::read_adapter(test::source_dir() / "demo" / "experts" / "capital-2000");
  auto generator = at::detail::createCPUGenerator(11);
  std::vector<lora::Module> plus, minus;
  for (const auto& m : good.modules) {
    const at::Tensor dA = at::randn(m.A.sizes(), generator) * (5 * m.A.std().item<double>());
    const at::Tensor dB = at::randn(m.B.sizes(), generator) * (5 * m.B.std().item<double>() + 1e-3);
    plus.push_back({m.name, m.A + dA, m.B + dB, m.scaling});
    minus.push_back({m.name, m.A - dA, m.B - dB, m.scaling});
  }
  const std::vector<fs::path> dirs = {dir / "plus", dir / "minus"};
  lora::write_adapter(dirs[0], plus, "demo-base");
  lora::write_adapter(dirs[1], minus, "demo-base");
  return dirs;
}

fs::path write_task(const fs::path& dir, const std::vector<fs::path>& experts, const json& search) {
  const fs::path demo = test::source_dir() / "demo";
  json config = {{"base_model", (demo / "base").string()},
                 {"experts", {experts[0].string(), experts[1].string()}},
                 {"device", "cpu"},
                 {"dtype", "float32"},
                 {"utility",
                  {{"type", "multiple_choice"},
                   {"data", {{"path", (demo / "data" / "quiz.jsonl").string()}, {"dev_size", 30}, {"test_size", 30},
                             {"shuffle", false}}}}},
                 {"search", search},
                 {"output", {{"dir", (dir / "run").string()}, {"top_k", 1}}}};
  const fs::path path = dir / "task.json";
  write_text_atomic(path, config.dump(2));
  return path;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// ΔW of every module of an adapter directory, in the pool's flat layout.
at::Tensor flat_of(const fs::path& adapter, const lora::ExpertPool& pool) {
  return pool.layout.flatten(lora::read_adapter(adapter));
}

void expect_returns_the_uniform_average(const json& search, const std::string& name) {
  const fs::path dir = test::temp_dir(name);
  const auto experts = opposite_experts(dir);
  const auto r = test::run_cli({"-q", "search", "--config", write_task(dir, experts, search).string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json report = read_json(dir / "run" / "report.json");
  EXPECT_EQ(report["best"]["source"], "uniform_average") << report["best"].dump();
  const double average_dev = report["uniform_average"]["dev"].get<double>();
  EXPECT_EQ(report["best"]["dev"].get<double>(), average_dev);
  for (const auto& e : report["experts"]) EXPECT_GT(average_dev, e["dev"].get<double>()) << e.dump();
  for (const auto& b : report["baselines"]) EXPECT_GE(average_dev, b["dev"].get<double>()) << b.dump();
  EXPECT_EQ(report["baselines"].size(), 3u);  // task_arithmetic, ties, dare_ties by default

  const auto pool = lora::ExpertPool::load(experts);
  EXPECT_LT(test::max_abs_diff(flat_of(dir / "run" / "best", pool), pool.weights.mean(0)), 1e-6);
  const json written = read_json(dir / "run" / "best" / "adapter_config.json");
  EXPECT_EQ(written["modelswarm"]["source"], "uniform_average");
}

TEST(ReturnedAdapter, AUniformAverageThatBeatsEveryParticleOnDevIsReturned) {
  // The swarm holds only the two experts and never moves: the average is a baseline outside it.
  expect_returns_the_uniform_average({{"swarm_size", 2}, {"max_iterations", 0}, {"include_uniform_average", false}},
                                     "average-outside");
}

TEST(ReturnedAdapter, AParticleThatStayedTheUniformAverageIsReportedAsIt) {
  // The average joins the swarm as particle 2, is its global best, and never moves.
  expect_returns_the_uniform_average({{"swarm_size", 3}, {"max_iterations", 0}}, "average-inside");
}

}  // namespace
}  // namespace modelswarm
