// The contract every registered search algorithm keeps under the driver: it starts from the
// initial points, moves toward a known optimum between them, never reports a best worse than
// its best initial point, and a seed fixes the whole run.
#include "modelswarm/swarm/optimiser.h"

#include <ATen/ATen.h>

#include <limits>

#include "modelswarm/common/error.h"
#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/swarm/coefficients.h"
#include "swarm/synthetic_problems.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
using nlohmann::json;
using swarm::State;

std::shared_ptr<const swarm::Algorithm> make(const std::string& name, json search) {
  search["algorithm"] = name;
  return swarm::algorithm_from_json(search, "test");
}

at::Tensor make_experts(int64_t n, int64_t d, uint64_t seed) {
  return at::randn({n, d}, at::detail::createCPUGenerator(seed), at::TensorOptions(at::kFloat));
}

double distance(const at::Tensor& a, const at::Tensor& b) { return (a - b).norm().item<double>(); }

class EveryAlgorithm : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryAlgorithm, StartsFromTheInitialPointsAsItsFirstRows) {
  const at::Tensor experts = make_experts(4, 6, 1);
  test::QuadraticBowl bowl(at::zeros({6}));
  const auto algorithm = make(GetParam(), {{"swarm_size", 7}, {"max_iterations", 0}});
  const State state = swarm::Optimiser(*algorithm, bowl).initialise(experts);
  ASSERT_EQ(state.size(), 7);
  EXPECT_TRUE(at::equal(state.positions.narrow(0, 0, 4), experts));
  EXPECT_EQ(state.history.front().evaluated.size(), 7u);
  EXPECT_EQ(bowl.evaluated_rows, 7);
  EXPECT_TRUE(state.finished());
}

TEST_P(EveryAlgorithm, MovesTowardAnOptimumBetweenTheExpertsInTheCoefficientSpace) {
  const at::Tensor experts = make_experts(4, 24, 2);
  const at::Tensor mix = at::tensor({0.45f, 0.3f, 0.05f, 0.2f});
  test::QuadraticBowl bowl(mix.matmul(experts));
  swarm::CoefficientProblem coefficients(bowl, experts);
  const auto algorithm = make(GetParam(), {{"swarm_size", 12}, {"max_iterations", 60}, {"patience", 60}});
  swarm::Optimiser optimiser(*algorithm, coefficients);
  State state = optimiser.initialise(coefficients.initial_particles());
  optimiser.run(state);
  double nearest_expert = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < 4; ++i) nearest_expert = std::min(nearest_expert, distance(experts[i], mix.matmul(experts)));
  const double found = distance(coefficients.to_positions(state.best), mix.matmul(experts));
  EXPECT_LT(found, 0.3 * nearest_expert) << "nearest expert " << nearest_expert << ", found " << found;
  EXPECT_NEAR(state.best_utility, -found * found, 1e-4 * found * found + 1e-9);
}

TEST_P(EveryAlgorithm, NeverReportsABestWorseThanTheBestInitialPoint) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    const at::Tensor experts = make_experts(4, 6, seed);
    test::QuadraticBowl bowl(at::full({6}, 3.0f));  // the optimum far outside the experts' hull
    const auto algorithm = make(GetParam(), {{"swarm_size", 8}, {"max_iterations", 20}, {"seed", seed}});
    swarm::Optimiser optimiser(*algorithm, bowl);
    State state = optimiser.initialise(experts);
    optimiser.run(state);
    const auto& initial = state.history.front().utilities;
    EXPECT_GE(state.best_utility, *std::max_element(initial.begin(), initial.begin() + 4)) << "seed " << seed;
    for (size_t k = 1; k < state.history.size(); ++k)
      EXPECT_GE(state.history[k].best, state.history[k - 1].best) << "seed " << seed;
    EXPECT_DOUBLE_EQ(bowl.evaluate(state.best.unsqueeze(0))[0], state.best_utility);  // a real position
    // The elite is sorted, holds the best, and its utilities are those of its positions.
    const auto elite = algorithm->elite(state, 3);
    ASSERT_FALSE(elite.empty());
    EXPECT_EQ(elite.front().utility, state.best_utility);
    for (size_t e = 0; e < elite.size(); ++e) {
      EXPECT_DOUBLE_EQ(bowl.evaluate(elite[e].position.unsqueeze(0))[0], elite[e].utility);
      if (e > 0) EXPECT_GE(elite[e - 1].utility, elite[e].utility);
    }
  }
}

TEST_P(EveryAlgorithm, TheSeedFixesTheWholeRun) {
  const at::Tensor experts = make_experts(3, 5, 4);
  test::QuadraticBowl bowl(experts.mean(0) + 0.2);
  auto run = [&](uint64_t seed) {
    const auto algorithm = make(GetParam(), {{"swarm_size", 6}, {"max_iterations", 8}, {"seed", seed}});
    swarm::Optimiser optimiser(*algorithm, bowl);
    State state = optimiser.initialise(experts);
    optimiser.run(state);
    return state;
  };
  const State a = run(5), b = run(5), c = run(6);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t k = 0; k < a.history.size(); ++k) EXPECT_EQ(a.history[k].utilities, b.history[k].utilities);
  EXPECT_TRUE(at::equal(a.best, b.best));
  EXPECT_NE(a.history.back().utilities, c.history.back().utilities);
}

INSTANTIATE_TEST_SUITE_P(Registered, EveryAlgorithm, ::testing::ValuesIn(swarm::algorithm_names()),
                         [](const auto& info) { return info.param; });

TEST(Optimiser, StopsOnPatienceOrMaxIterationsWhateverTheAlgorithm) {
  test::RowFunction flat(2, [](const at::Tensor&) { return 1.0; });
  for (const auto& name : swarm::algorithm_names()) {
    const auto patient = make(name, {{"swarm_size", 3}, {"max_iterations", 100}, {"patience", 3}});
    swarm::Optimiser optimiser(*patient, flat);
    State state = optimiser.initialise(make_experts(2, 2, 3));
    optimiser.run(state);
    EXPECT_EQ(state.stop_reason, swarm::StopReason::kPatience) << name;
    EXPECT_EQ(state.iteration, 3) << name;

    const auto capped = make(name, {{"swarm_size", 3}, {"max_iterations", 4}, {"patience", 100}});
    swarm::Optimiser capped_optimiser(*capped, flat);
    State capped_state = capped_optimiser.initialise(make_experts(2, 2, 3));
    capped_optimiser.run(capped_state);
    EXPECT_EQ(capped_state.stop_reason, swarm::StopReason::kMaxIterations) << name;
    EXPECT_EQ(capped_state.history.size(), 5u) << name;
  }
}

TEST(Optimiser, RefusesMoreInitialPointsThanTheSwarmHolds) {
  test::QuadraticBowl bowl(at::zeros({3}));
  const auto algorithm = make("random_search", {{"swarm_size", 2}});
  try {
    swarm::Optimiser(*algorithm, bowl).initialise(make_experts(3, 3, 1));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("search.swarm_size (2)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace modelswarm
