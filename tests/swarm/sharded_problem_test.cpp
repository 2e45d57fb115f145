// Rows split over several scorers: the split follows their speeds and always covers every row
// once, and the utilities come back in row order whatever the split.
#include "modelswarm/swarm/sharded_problem.h"

#include <ATen/ATen.h>

#include <numeric>

#include "modelswarm/swarm/optimiser.h"
#include "swarm/synthetic_problems.h"
#include "test_utils.h"

namespace modelswarm::swarm {
namespace {

int64_t sum(const std::vector<int64_t>& v) { return std::accumulate(v.begin(), v.end(), int64_t(0)); }

TEST(SplitRows, FollowsTheSpeedsAndCoversEveryRowOnce) {
  EXPECT_EQ(split_rows(20, {0, 0}), std::vector<int64_t>({10, 10}));          // nothing measured: equal
  EXPECT_EQ(split_rows(20, {30, 10}), std::vector<int64_t>({15, 5}));         // three times as fast
  EXPECT_EQ(split_rows(10, {1000, 1}), std::vector<int64_t>({9, 1}));         // everyone takes one
  EXPECT_EQ(split_rows(3, {1, 1, 1, 1, 1}), std::vector<int64_t>({1, 1, 1, 0, 0}));  // fewer rows than scorers
  EXPECT_EQ(split_rows(12, {10, 0, 10}), std::vector<int64_t>({4, 4, 4}));    // unknown counts as the mean
  for (int64_t rows : {1, 7, 20, 101})
    for (const auto& speeds : std::vector<std::vector<double>>{{1, 2, 3}, {5, 5}, {0.1, 100, 7, 3}})
      EXPECT_EQ(sum(split_rows(rows, speeds)), rows);
}

TEST(ShardedProblem, ReturnsEveryRowsUtilityInOrderAndTheOptimiserRunsAsOnOneScorer) {
  const at::Tensor optimum = at::arange(6, at::kFloat) / 6;
  test::QuadraticBowl a(optimum), b(optimum), c(optimum), alone(optimum);
  ShardedProblem sharded({&a, &b, &c}, {"a", "b", "c"});
  const at::Tensor rows = at::randn({11, 6}, at::kFloat);
  EXPECT_EQ(sharded.evaluate(rows), alone.evaluate(rows));
  EXPECT_EQ(a.evaluated_rows + b.evaluated_rows + c.evaluated_rows, 11);
  EXPECT_GT(a.evaluated_rows, 0);
  EXPECT_GT(c.evaluated_rows, 0);

  auto algorithm = algorithm_from_json({{"swarm_size", 9}, {"max_iterations", 6}, {"seed", 5}}, "test");
  const at::Tensor initial = at::randn({4, 6}, at::kFloat);
  State one = Optimiser(*algorithm, alone).initialise(initial), three = Optimiser(*algorithm, sharded).initialise(initial);
  Optimiser(*algorithm, alone).run(one);
  Optimiser(*algorithm, sharded).run(three);
  EXPECT_TRUE(at::equal(one.best, three.best));
  EXPECT_EQ(one.history.back().utilities, three.history.back().utilities);
}

TEST(ShardedProblem, AFailingReplicaFailsTheCall) {
  const at::Tensor optimum = at::zeros({3}, at::kFloat);
  test::QuadraticBowl good(optimum);
  test::RowFunction bad(3, [](const at::Tensor&) -> double { throw Error("device lost"); });
  ShardedProblem sharded({&good, &bad}, {"good", "bad"});
  EXPECT_NE(test::message_of<Error>([&] { sharded.evaluate(at::zeros({4, 3})); }).find("device lost"),
            std::string::npos);
}

}  // namespace
}  // namespace modelswarm::swarm
