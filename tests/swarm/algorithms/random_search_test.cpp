#include <ATen/ATen.h>

#include "modelswarm/common/error.h"
#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/swarm/optimiser.h"
#include "swarm/synthetic_problems.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
using nlohmann::json;

swarm::State run(const json& search, swarm::Problem& problem, const at::Tensor& initial) {
  const auto algorithm = swarm::algorithm_from_json(search, "test");
  swarm::Optimiser optimiser(*algorithm, problem);
  swarm::State state = optimiser.initialise(initial);
  optimiser.run(state);
  return state;
}

TEST(RandomSearch, HullSamplesAreConvexMixesOfTheInitialPoints) {
  // In the coefficient space of 3 experts the initial points are one-hot: a sample's
  // coordinates are its mixing weights, so they are positive and sum to 1.
  test::QuadraticBowl bowl(at::zeros({3}));
  const swarm::State state = run({{"algorithm", "random_search"}, {"swarm_size", 50}, {"max_iterations", 1}},
                                 bowl, at::eye(3));
  EXPECT_TRUE(at::allclose(state.positions.sum(1), at::ones({50}), 0, 1e-6));
  EXPECT_GT(state.positions.min().item<float>(), 0.0f);
  // Uniform over the simplex: each weight has mean 1/3.
  EXPECT_NEAR(state.positions.mean(0)[0].item<float>(), 1.0 / 3, 0.1);
}

TEST(RandomSearch, BoxSamplesStayWithinTheInitialPointsRangeAndFillIt) {
  const at::Tensor initial = at::tensor({0.f, 10.f, 2.f, -4.f, 1.f, 5.f}).view({3, 2});  // x in [0, 2], y in [-4, 10]
  test::QuadraticBowl bowl(at::zeros({2}));
  const swarm::State state = run(
      {{"algorithm", "random_search"}, {"swarm_size", 200}, {"max_iterations", 1}, {"distribution", "box"}}, bowl,
      initial);
  const at::Tensor x = state.positions.select(1, 0), y = state.positions.select(1, 1);
  EXPECT_GE(x.min().item<float>(), 0.f);
  EXPECT_LE(x.max().item<float>(), 2.f);
  EXPECT_GE(y.min().item<float>(), -4.f);
  EXPECT_LE(y.max().item<float>(), 10.f);
  EXPECT_GT(y.max().item<float>() - y.min().item<float>(), 12.f);  // it reaches the corners' neighbourhood
}

TEST(RandomSearch, TheEliteIsTheBestRowsEverEvaluated) {
  const at::Tensor experts = at::randn({3, 4}, at::detail::createCPUGenerator(8));
  test::QuadraticBowl bowl(experts.mean(0));
  const auto algorithm = swarm::algorithm_from_json(
      {{"algorithm", "random_search"}, {"swarm_size", 5}, {"max_iterations", 6}, {"patience", 100}}, "test");
  swarm::Optimiser optimiser(*algorithm, bowl);
  swarm::State state = optimiser.initialise(experts);
  optimiser.run(state);
  std::vector<double> every;
  for (const auto& record : state.history)
    for (int64_t row : record.evaluated) every.push_back(record.utilities[row]);
  std::sort(every.rbegin(), every.rend());
  const auto elite = algorithm->elite(state, 10);
  ASSERT_EQ(elite.size(), 5u);  // the archive holds swarm_size rows
  for (size_t e = 0; e < elite.size(); ++e) EXPECT_EQ(elite[e].utility, every[e]) << "rank " << e + 1;
  EXPECT_NE(elite.front().label.find("iteration"), std::string::npos);
}

TEST(RandomSearch, AnUnknownDistributionIsAConfigError) {
  try {
    swarm::algorithm_from_json({{"algorithm", "random_search"}, {"distribution", "sphere"}}, "task.json");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("task.json: search.distribution: must be hull or box"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace modelswarm
