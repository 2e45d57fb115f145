#include "modelswarm/search/outputs.h"

#include <ATen/ATen.h>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/swarm/coefficients.h"
#include "swarm/model_swarms_harness.h"
#include "swarm/synthetic_problems.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;

lora::PoolLayout small_layout() {
  return lora::PoolLayout({{"model.layers.0.self_attn.q_proj", 2, 3, 4}, {"model.layers.1.mlp.up_proj", 1, 3, 5}});
}

// ΔW of every module of an adapter read back from disk, against the row it was written from.
void expect_adapter_holds(const fs::path& dir, const lora::PoolLayout& layout, const at::Tensor& row) {
  const lora::Adapter adapter = lora::read_adapter(dir);
  ASSERT_EQ(adapter.modules.size(), layout.slots().size()) << dir;
  for (const auto& slot : layout.slots()) {
    const lora::Module* m = adapter.find(slot.name);
    ASSERT_NE(m, nullptr) << slot.name;
    const at::Tensor expected = layout.b_view(row, slot).matmul(layout.a_view(row, slot));  // (out, in)
    const at::Tensor got = m->scaling * m->B.to(at::kFloat).matmul(m->A.to(at::kFloat));
    EXPECT_LT(test::max_abs_diff(got, expected), 1e-6) << dir << " " << slot.name;
  }
}

TEST(SearchOutputs, WritesTheGlobalBestAndTopKPersonalBestsAsPeftAdapters) {
  const lora::PoolLayout layout = small_layout();
  const at::Tensor experts = at::randn({3, layout.dim()}, at::detail::createCPUGenerator(3));
  test::QuadraticBowl bowl(experts.mean(0));
  test::PsoOptions o;
  o.swarm_size = 5;
  o.max_iterations = 8;
  test::Swarm swarm(o, bowl);
  swarm::State state = swarm.initialise(experts);
  swarm.run(state);

  const fs::path run_dir = test::temp_dir("outputs");
  const auto written = search::write_search_outputs(run_dir, layout, swarm.algorithm(), state, 3, "tiny-base");
  ASSERT_EQ(written.size(), 4u);
  expect_adapter_holds(run_dir / "best", layout, state.best);
  const swarm::Particles particles = test::particles(state);
  const auto ranking = particles.ranking();
  for (int rank = 1; rank <= 3; ++rank) {
    expect_adapter_holds(run_dir / "top_k" / std::to_string(rank), layout, particles.personal_best[ranking[rank - 1]]);
    EXPECT_EQ(written[rank].at("particle"), ranking[rank - 1]);
  }
  EXPECT_GE(particles.personal_best_utilities[ranking[0]], particles.personal_best_utilities[ranking[1]]);
  const auto config = nlohmann::json::parse(read_file(run_dir / "best" / "adapter_config.json"));
  EXPECT_EQ(config.at("base_model_name_or_path"), "tiny-base");
  EXPECT_EQ(config.at("modelswarm").at("particle"), state.best_index);

  // A later, smaller top_k leaves no stale ranks behind.
  search::write_search_outputs(run_dir, layout, swarm.algorithm(), state, 1, "tiny-base");
  EXPECT_TRUE(fs::exists(run_dir / "top_k" / "1"));
  EXPECT_FALSE(fs::exists(run_dir / "top_k" / "2"));

  const auto summary = search::search_summary(swarm.algorithm(), state, 2);
  EXPECT_EQ(summary.at("iterations"), state.iteration);
  EXPECT_EQ(summary.at("stopped_because"), swarm::to_string(state.stop_reason));
  EXPECT_EQ(summary.at("best").at("dev").get<double>(), state.best_utility);
  EXPECT_EQ(summary.at("top_k").size(), 2u);
  EXPECT_EQ(summary.at("seed"), 42);
  search::write_report(run_dir, {{"swarm", summary}});
  EXPECT_EQ(nlohmann::json::parse(read_file(run_dir / "report.json")).at("swarm"), summary);
}

TEST(SearchOutputs, CoefficientParticlesAreWrittenAsTheirMixOfExperts) {
  const lora::PoolLayout layout = small_layout();
  const at::Tensor experts = at::randn({3, layout.dim()}, at::detail::createCPUGenerator(4));
  test::QuadraticBowl bowl(0.7 * experts[0] + 0.3 * experts[2]);
  swarm::CoefficientProblem coefficients(bowl, experts);
  test::PsoOptions o;
  o.swarm_size = 4;
  o.max_iterations = 5;
  test::Swarm swarm(o, coefficients);
  swarm::State state = swarm.initialise(coefficients.initial_particles());
  swarm.run(state);
  const fs::path run_dir = test::temp_dir("outputs_coefficients");
  search::write_search_outputs(run_dir, layout, swarm.algorithm(), state, 1, "tiny-base",
                               [&](const at::Tensor& c) { return coefficients.to_positions(c); });
  expect_adapter_holds(run_dir / "best", layout, coefficients.to_positions(state.best));
  EXPECT_THROW(search::write_particle_adapter(run_dir / "bad", layout, state.best, "tiny-base"), Error);
}

}  // namespace
}  // namespace modelswarm
