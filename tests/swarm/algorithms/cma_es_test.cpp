#include <ATen/ATen.h>

#include <cmath>

#include "modelswarm/common/error.h"
#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/swarm/optimiser.h"
#include "swarm/synthetic_problems.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
using nlohmann::json;

struct Search {
  std::shared_ptr<const swarm::Algorithm> algorithm;
  swarm::State state;
};

Search search_with(json options, swarm::Problem& problem, const at::Tensor& initial) {
  options["algorithm"] = "cma_es";
  Search r;
  r.algorithm = swarm::algorithm_from_json(options, "test");
  swarm::Optimiser optimiser(*r.algorithm, problem);
  r.state = optimiser.initialise(initial);
  optimiser.run(r.state);
  return r;
}

at::Tensor points(int64_t n, int64_t d, uint64_t seed) {
  return at::randn({n, d}, at::detail::createCPUGenerator(seed), at::TensorOptions(at::kFloat));
}

TEST(CmaEs, ConvergesOnASphereByShrinkingItsStepSize) {
  // The optimum between the initial points; the step size must adapt to get 1e-6 close.
  const at::Tensor initial = points(5, 5, 1);
  test::QuadraticBowl bowl(initial.mean(0) + 0.1);
  const Search r = search_with({{"swarm_size", 10}, {"max_iterations", 150}, {"patience", 150}}, bowl, initial);
  EXPECT_GT(r.state.best_utility, -1e-6);
  const double sigma = r.state.data.at("sigma").get<double>();
  EXPECT_LT(sigma, 0.05 * 0.5) << "the step size should have shrunk from 0.5";
  EXPECT_EQ(r.algorithm->summary(r.state).at("covariance"), "full");
}

TEST(CmaEs, FullCovarianceLearnsARotatedEllipsoidThatTheDiagonalOneCannot) {
  // f(x) = -Σ_i κ^{i/(D-1)} (Qx)_i² with a random rotation Q and condition number κ = 1e4:
  // full covariance learns the rotated axes; the diagonal form, which only scales coordinates,
  // is slower on the same budget.
  const int64_t d = 6;
  const at::Tensor q = std::get<0>(at::linalg_qr(points(d, d, 7).to(at::kDouble)));
  at::Tensor scales = at::pow(1e4, at::arange(d, at::kDouble) / (d - 1));
  test::RowFunction ellipsoid(d, [&](const at::Tensor& x) {
    const at::Tensor rotated = q.matmul(x.to(at::kDouble) - 0.3);
    return -(scales * rotated.square()).sum().item<double>();
  });
  const at::Tensor initial = points(4, d, 3);
  const json budget = {{"swarm_size", 10}, {"max_iterations", 250}, {"patience", 250}};
  json full = budget, diagonal = budget;
  full["covariance"] = "full";
  diagonal["covariance"] = "diagonal";
  const double with_full = search_with(full, ellipsoid, initial).state.best_utility;
  const double with_diagonal = search_with(diagonal, ellipsoid, initial).state.best_utility;
  EXPECT_GT(with_full, -1e-6);
  EXPECT_GT(with_full, 100 * with_diagonal) << "full " << with_full << ", diagonal " << with_diagonal;
}

TEST(CmaEs, AutoChoosesTheDiagonalFormAboveAThousandDimensions) {
  const at::Tensor small = points(3, 1000, 2), large = points(3, 1001, 2);
  test::QuadraticBowl bowl_small(at::zeros({1000})), bowl_large(at::zeros({1001}));
  const json search = {{"swarm_size", 4}, {"max_iterations", 1}};
  const Search a = search_with(search, bowl_small, small), b = search_with(search, bowl_large, large);
  EXPECT_EQ(a.state.data.at("covariance"), "full");
  EXPECT_TRUE(a.state.tensors.count("C"));
  EXPECT_EQ(b.state.data.at("covariance"), "diagonal");
  EXPECT_TRUE(b.state.tensors.count("C_diagonal"));
  EXPECT_FALSE(b.state.tensors.count("C"));  // no D×D matrix in the parameter space
}

TEST(CmaEs, SamplesSpreadAsSigmaTimesTheInitialPoints) {
  // Initial points with per-coordinate spread s: iteration 0's samples have std ≈ σ·s around
  // their centroid.
  const at::Tensor initial = at::tensor({-1.f, -10.f, 1.f, 10.f}).view({2, 2});  // s = (1, 10)
  test::QuadraticBowl bowl(at::zeros({2}));
  const Search r = search_with({{"swarm_size", 402}, {"max_iterations", 0}, {"sigma", 0.5}}, bowl, initial);
  const at::Tensor samples = r.state.positions.narrow(0, 2, 400);
  EXPECT_NEAR(samples.std(0)[0].item<double>(), 0.5, 0.08);
  EXPECT_NEAR(samples.std(0)[1].item<double>(), 5.0, 0.8);
  EXPECT_LT(samples.mean(0).abs().max().item<double>(), 0.6);
}

TEST(CmaEs, InvalidOptionsAreConfigErrorsNamingTheKey) {
  for (const auto& [search, key] : std::vector<std::pair<json, std::string>>{
           {{{"algorithm", "cma_es"}, {"sigma", 0}}, "search.sigma: must be positive"},
           {{{"algorithm", "cma_es"}, {"covariance", "low_rank"}}, "search.covariance: must be auto, full or diagonal"},
           {{{"algorithm", "cma_es"}, {"inertia", 0.2}}, "search.inertia: unknown key"}}) {
    try {
      swarm::algorithm_from_json(search, "task.json");
      ADD_FAILURE() << "no error for " << search.dump();
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace modelswarm
