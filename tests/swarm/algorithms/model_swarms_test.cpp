#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <set>

#include "modelswarm/common/error.h"
#include "modelswarm/swarm/coefficients.h"
#include "modelswarm/swarm/model_swarms.h"
#include "swarm/model_swarms_harness.h"
#include "swarm/synthetic_problems.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
using Options = test::PsoOptions;
using swarm::State;
using test::particles;
using test::Swarm;
using test::QuadraticBowl;
using test::RowFunction;

// (n, D) experts spread around the origin; the optimum lies strictly between them.
at::Tensor make_experts(int64_t n, int64_t d, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::randn({n, d}, gen, at::TensorOptions(at::kFloat));
}

double distance(const at::Tensor& a, const at::Tensor& b) { return (a - b).norm().item<double>(); }

State run(const Options& o, swarm::Problem& problem, const at::Tensor& experts) {
  Swarm s(o, problem);
  State state = s.initialise(experts);
  s.run(state);
  return state;
}

// History equality without wall times (the only non-reproducible field).
void expect_same_history(const State& a, const State& b) {
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t k = 0; k < a.history.size(); ++k) {
    const auto& x = a.history[k];
    const auto& y = b.history[k];
    EXPECT_EQ(x.iteration, y.iteration);
    EXPECT_EQ(x.extra.at("step_length"), y.extra.at("step_length"));
    EXPECT_EQ(x.utilities, y.utilities) << "iteration " << k;
    EXPECT_EQ(x.best, y.best);
    EXPECT_EQ(x.extra.at("global_worst"), y.extra.at("global_worst"));
    EXPECT_EQ(x.extra.at("restarted"), y.extra.at("restarted"));
    EXPECT_EQ(x.evaluated, y.evaluated);
  }
}

// 1-D swarm of two particles at 0 and 1 scored by f(x) = x: g = particle 1, g_w = particle 0.
struct LineSetup {
  at::Tensor experts = at::tensor({0.0f, 1.0f}).view({2, 1});
  RowFunction problem{1, [](const at::Tensor& x) { return x[0].item<double>(); }};
  Options options() const {
    Options o;
    static_cast<swarm::ModelSwarmsOptions&>(o) = swarm::model_swarms_preset("reference");  // the weights the arithmetic below uses
    o.swarm_size = 2;
    o.max_iterations = 1;
    o.weight_randomness = false;
    o.initial_velocity = swarm::InitialVelocity::kZero;
    o.step_length = 1.0;
    return o;
  }
};

TEST(ModelSwarms, ConvergesTowardAnOptimumBetweenTheExperts) {
  const at::Tensor experts = make_experts(5, 12, 1);
  const at::Tensor optimum = 0.4 * experts[0] + 0.35 * experts[2] + 0.25 * experts[4];
  QuadraticBowl bowl(optimum);
  Options o;
  o.swarm_size = 12;
  o.max_iterations = 150;
  o.patience = 150;
  const State state = run(o, bowl, experts);
  double nearest_expert = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < experts.size(0); ++i) nearest_expert = std::min(nearest_expert, distance(experts[i], optimum));
  const double found = distance(state.best, optimum);
  EXPECT_LT(found, 0.25 * nearest_expert) << "nearest expert " << nearest_expert << ", swarm best " << found;
  EXPECT_NEAR(state.best_utility, -found * found, 1e-5 * found * found);
  EXPECT_EQ(bowl.evaluated_rows, state.evaluations);
}

TEST(ModelSwarms, NeverReturnsAGlobalBestWorseThanTheBestInitialParticle) {
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    const at::Tensor experts = make_experts(4, 6, seed);
    QuadraticBowl bowl(at::full({6}, 3.0f));  // optimum far outside the experts' hull
    Options o;
    o.swarm_size = 8;
    o.max_iterations = 30;
    o.seed = seed;
    o.repel = 1.0;  // a strong push that can make particles worse
    const State state = run(o, bowl, experts);
    const auto& initial = state.history.front().utilities;
    const double best_initial = *std::max_element(initial.begin(), initial.end());
    EXPECT_GE(state.best_utility, best_initial) << "seed " << seed;
    for (size_t k = 1; k < state.history.size(); ++k)
      EXPECT_GE(state.history[k].best, state.history[k - 1].best) << "seed " << seed;
    // g is a real position whose utility is the one reported.
    EXPECT_DOUBLE_EQ(bowl.evaluate(state.best.unsqueeze(0))[0], state.best_utility);
  }
}

TEST(ModelSwarms, CrossoverChildrenUseWeightsInTheConfiguredRange) {
  // Experts (1,0) and (0,1): the one child of a swarm of 3 is (w, 1-w) or (1-w, w).
  const at::Tensor experts = at::eye(2);
  QuadraticBowl bowl(at::zeros({2}));
  std::set<int64_t> first_parent_seen;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Options o;
    o.swarm_size = 3;
    o.max_iterations = 0;
    o.crossover_min = 0.25;
    o.crossover_max = 0.5;
    o.seed = seed;
    const State state = Swarm(o, bowl).initialise(experts);
    ASSERT_EQ(state.size(), 3);
    const at::Tensor child = state.positions[2];
    EXPECT_FLOAT_EQ(child.sum().item<float>(), 1.0f);
    const float w = child.min().item<float>();
    EXPECT_GE(w, 0.25f);
    EXPECT_LE(w, 0.5f);
    first_parent_seen.insert(child[0].item<float>() < 0.5f ? 1 : 0);
  }
  EXPECT_EQ(first_parent_seen.size(), 2u) << "both experts should be drawn as the first parent";

  // The default range [0, 2] extrapolates half the time: some children leave the segment, and
  // children become parents (coordinates beyond what one crossover of the experts reaches).
  Options o;
  o.swarm_size = 30;
  o.max_iterations = 0;
  const State state = Swarm(o, bowl).initialise(experts);
  EXPECT_LT(state.positions.min().item<float>(), 0.0f);
  EXPECT_TRUE(at::allclose(state.positions.sum(1), at::ones({30})));  // affine combinations
}

TEST(ModelSwarms, RestartSendsAStaleParticleBackToItsBestAndResetsItsCounter) {
  // A flat utility: no personal best ever improves. With inertia only, a restarted particle has
  // v = 0 and stays at p_i from then on, which makes the first restart visible in the positions.
  const at::Tensor experts = make_experts(3, 4, 7);
  RowFunction flat(4, [](const at::Tensor&) { return 0.0; });
  Options o;
  o.swarm_size = 3;
  o.max_iterations = 7;
  o.patience = 100;
  o.restart_patience = 2;
  o.inertia = 1.0;
  o.cognitive = o.social = o.repel = 0.0;
  Swarm swarm(o, flat);
  State state = swarm.initialise(experts);
  std::vector<int64_t> restart_iterations;
  while (swarm.step(state)) {
    const auto& record = state.history.back();
    const auto restarted = record.extra.at("restarted").get<std::vector<int64_t>>();
    if (!restarted.empty()) {
      EXPECT_EQ(restarted, (std::vector<int64_t>{0, 1, 2}));
      restart_iterations.push_back(record.iteration);
    }
    EXPECT_EQ(at::equal(state.positions, particles(state).personal_best), record.iteration >= 3)
        << "iteration " << record.iteration;
  }
  // Stale after iterations 1, 2 -> restart at 3; the counter restarts, so next at 5, then 7.
  // (The reference code, without the reset, would restart at 3, 4, 5, 6, 7.)
  EXPECT_EQ(restart_iterations, (std::vector<int64_t>{3, 5, 7}));
  EXPECT_EQ(particles(state).restart_counts, (std::vector<int64_t>{3, 3, 3}));
}

TEST(ModelSwarms, StepLengthDecaysToItsFloor) {
  QuadraticBowl bowl(at::zeros({3}));
  Options o;
  o.swarm_size = 4;
  o.max_iterations = 5;
  o.patience = 100;
  o.step_length = 1.0;
  o.step_decay = 0.5;
  o.min_step_length = 0.2;
  const State state = run(o, bowl, make_experts(3, 3, 2));
  std::vector<double> used;
  for (size_t k = 1; k < state.history.size(); ++k) used.push_back(state.history[k].extra.at("step_length").get<double>());
  EXPECT_EQ(used, (std::vector<double>{1.0, 0.5, 0.25, 0.2, 0.2}));
  EXPECT_EQ(particles(state).step_length, 0.2);
}

TEST(ModelSwarms, StopsWhenTheGlobalBestStallsForPatienceIterations) {
  RowFunction flat(2, [](const at::Tensor&) { return 1.0; });
  Options o;
  o.swarm_size = 3;
  o.max_iterations = 100;
  o.patience = 3;
  const State state = run(o, flat, make_experts(2, 2, 3));
  EXPECT_EQ(state.stop_reason, swarm::StopReason::kPatience);
  EXPECT_EQ(state.iteration, 3);
  EXPECT_EQ(state.history.size(), 4u);

  Options k = o;
  k.patience = 100;
  k.max_iterations = 4;
  const State capped = run(k, flat, make_experts(2, 2, 3));
  EXPECT_EQ(capped.stop_reason, swarm::StopReason::kMaxIterations);
  EXPECT_EQ(capped.iteration, 4);

  Options none = o;
  none.max_iterations = 0;
  QuadraticBowl bowl(at::zeros({2}));
  Swarm zero(none, bowl);
  State initial = zero.initialise(make_experts(2, 2, 3));
  EXPECT_TRUE(initial.finished());
  EXPECT_FALSE(zero.step(initial));
  EXPECT_EQ(bowl.evaluated_rows, 3);  // only the first evaluation
}

TEST(ModelSwarms, DroppedEvaluationsKeepThePreviousScore) {
  QuadraticBowl bowl(at::zeros({4}));
  Options o;
  o.swarm_size = 6;
  o.max_iterations = 40;
  o.patience = 1000;
  o.drop_iteration_probability = 0.3;
  o.drop_particle_probability = 0.4;
  const State state = run(o, bowl, make_experts(3, 4, 4));
  int64_t skipped_iterations = 0, partial_iterations = 0, evaluated = 6;
  for (size_t k = 1; k < state.history.size(); ++k) {
    const auto& now = state.history[k];
    const auto& before = state.history[k - 1];
    evaluated += static_cast<int64_t>(now.evaluated.size());
    if (now.evaluated.empty()) ++skipped_iterations;
    else if (now.evaluated.size() < 6u) ++partial_iterations;
    for (int64_t i = 0; i < 6; ++i) {
      const bool scored = std::find(now.evaluated.begin(), now.evaluated.end(), i) != now.evaluated.end();
      if (!scored) EXPECT_EQ(now.utilities[i], before.utilities[i]) << "iteration " << k << " particle " << i;
    }
  }
  EXPECT_GT(skipped_iterations, 3);
  EXPECT_GT(partial_iterations, 10);
  EXPECT_EQ(evaluated, state.evaluations);
  EXPECT_EQ(bowl.evaluated_rows, state.evaluations);
  int64_t per_particle = 0;
  for (int64_t c : particles(state).evaluation_counts) per_particle += c;
  EXPECT_EQ(per_particle, state.evaluations);
}

TEST(ModelSwarms, RepelPushesAwayFromTheGlobalWorst) {
  LineSetup line;
  Options o = line.options();
  o.inertia = o.cognitive = o.social = 0.0;
  o.repel = 1.0;
  Swarm swarm(o, line.problem);
  State state = swarm.initialise(line.experts);
  ASSERT_EQ(particles(state).global_worst_index, 0);
  swarm.step(state);
  // v_1 = -(g_w - x_1) = -(0 - 1) = +1: the best particle moves away from the worst, to 2.
  EXPECT_FLOAT_EQ(state.positions[1][0].item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(state.positions[0][0].item<float>(), 0.0f);  // the worst itself has nothing to flee
}

TEST(ModelSwarms, VelocityIsNormalisedByTheSumOfTheWeights) {
  LineSetup line;
  Options o = line.options();  // φ_v 0.4, φ_p 0.3, φ_g 0.3, φ_w 0.3 -> C = 1.3
  Swarm swarm(o, line.problem);
  State state = swarm.initialise(line.experts);
  swarm.step(state);
  // Particle 0 at x = 0 (= p_0 = g_w, v = 0): v = 0.3·(g − x)/1.3.
  // Particle 1 at x = 1 (= p_1 = g): v = −0.3·(g_w − x)/1.3.
  EXPECT_NEAR(state.positions[0][0].item<float>(), 0.3 / 1.3, 1e-6);
  EXPECT_NEAR(state.positions[1][0].item<float>(), 1.0 + 0.3 / 1.3, 1e-6);

  // Scaling every weight leaves the move unchanged.
  Options scaled = o;
  scaled.inertia *= 10;
  scaled.cognitive *= 10;
  scaled.social *= 10;
  scaled.repel *= 10;
  Swarm swarm10(scaled, line.problem);
  State state10 = swarm10.initialise(line.experts);
  swarm10.step(state10);
  EXPECT_TRUE(at::allclose(state10.positions, state.positions, 0, 1e-6));
}

TEST(ModelSwarms, WithoutWeightRandomnessTheSearchIgnoresTheSeed) {
  // No crossover (N = n), zero initial velocity, no random factors: nothing random is left.
  const at::Tensor experts = make_experts(4, 5, 9);
  QuadraticBowl bowl(0.5 * experts[0] + 0.5 * experts[1]);
  Options o;
  o.swarm_size = 4;
  o.max_iterations = 10;
  o.weight_randomness = false;
  o.initial_velocity = swarm::InitialVelocity::kZero;
  o.seed = 1;
  const State a = run(o, bowl, experts);
  o.seed = 2;
  const State b = run(o, bowl, experts);
  expect_same_history(a, b);
  EXPECT_TRUE(at::equal(a.positions, b.positions));

  o.weight_randomness = true;
  const State c = run(o, bowl, experts);
  EXPECT_FALSE(at::equal(a.positions, c.positions));
}

TEST(ModelSwarms, SameSeedGivesAnIdenticalRunAndAnotherSeedDoesNot) {
  const at::Tensor experts = make_experts(4, 8, 11);
  QuadraticBowl bowl(experts.mean(0));
  Options o;
  o.swarm_size = 10;
  o.max_iterations = 25;
  o.drop_particle_probability = 0.2;
  const State a = run(o, bowl, experts);
  const State b = run(o, bowl, experts);
  expect_same_history(a, b);
  EXPECT_TRUE(at::equal(a.positions, b.positions));
  EXPECT_TRUE(at::equal(particles(a).velocities, particles(b).velocities));
  EXPECT_TRUE(at::equal(a.best, b.best));
  EXPECT_TRUE(a.rng == b.rng);
  o.seed = 43;
  const State c = run(o, bowl, experts);
  EXPECT_NE(a.history[1].utilities, c.history[1].utilities);
}

TEST(ModelSwarms, InitialVelocityModes) {
  const at::Tensor experts = make_experts(4, 3, 12);
  QuadraticBowl bowl(at::zeros({3}));
  Options o;
  o.swarm_size = 4;
  o.max_iterations = 0;
  o.initial_velocity = swarm::InitialVelocity::kZero;
  EXPECT_EQ(particles(Swarm(o, bowl).initialise(experts)).velocities.abs().max().item<float>(), 0.0f);
  o.initial_velocity = swarm::InitialVelocity::kBest;
  State best = Swarm(o, bowl).initialise(experts);
  EXPECT_TRUE(at::equal(particles(best).velocities, best.best.unsqueeze(0) - best.positions));
  o.initial_velocity = swarm::InitialVelocity::kRandom;
  State random = Swarm(o, bowl).initialise(experts);
  for (int64_t i = 0; i < 4; ++i) {
    // v_i = x_j − x_i for some other particle j.
    int matches = 0;
    for (int64_t j = 0; j < 4; ++j)
      if (j != i && at::equal(particles(random).velocities[i], random.positions[j] - random.positions[i])) ++matches;
    EXPECT_EQ(matches, 1) << "particle " << i;
  }
}

TEST(ModelSwarms, FailedOrNanUtilitiesCountAsTheWorstAndTheSearchGoesOn) {
  // Throws for any row whose first coordinate is above 2 (in a batch or alone), NaN below -2.
  class Fragile : public swarm::Problem {
   public:
    int64_t dimension() const override { return 2; }
    std::vector<double> evaluate(const at::Tensor& x) override {
      std::vector<double> out;
      for (int64_t m = 0; m < x.size(0); ++m) {
        const double first = x[m][0].item<double>();
        if (first > 2) throw std::runtime_error("out of memory in a made-up way");
        out.push_back(first < -2 ? std::nan("") : -first * first);
      }
      return out;
    }
  } fragile;
  const at::Tensor rows = at::tensor({0.5f, 0.f, 3.f, 0.f, -3.f, 0.f, 1.f, 0.f}).view({4, 2});
  const auto u = swarm::evaluate_checked(fragile, rows, {10, 11, 12, 13});
  const double worst = -std::numeric_limits<double>::infinity();
  EXPECT_EQ(u, (std::vector<double>{-0.25, worst, worst, -1.0}));

  // Every particle failing is not the particles' fault: the error comes through.
  EXPECT_THROW(swarm::evaluate_checked(fragile, rows.narrow(0, 1, 1).repeat({3, 1}), {0, 1, 2}), std::runtime_error);

  // A whole search with a failing expert finishes, treats it as worst and never picks it as g.
  const at::Tensor experts = at::tensor({3.f, 0.f, 0.5f, 0.5f, -1.f, 1.f}).view({3, 2});
  Options o;
  o.swarm_size = 5;
  o.max_iterations = 10;
  const State state = run(o, fragile, experts);
  EXPECT_EQ(state.history[0].utilities[0], worst);
  EXPECT_TRUE(state.history[0].extra.at("global_worst").is_null());  // -inf
  EXPECT_GT(state.best_utility, worst);
  EXPECT_LE(state.best[0].item<float>(), 2.0f);
}

TEST(ModelSwarms, CoefficientSpaceReachesAMixOfExperts) {
  const at::Tensor experts = make_experts(4, 32, 13);
  const at::Tensor mix = at::tensor({0.5f, 0.3f, 0.0f, 0.2f});
  QuadraticBowl bowl(mix.matmul(experts));
  swarm::CoefficientProblem coefficients(bowl, experts);
  EXPECT_EQ(coefficients.dimension(), 4);
  EXPECT_TRUE(at::equal(coefficients.initial_particles(), at::eye(4)));
  Options o;
  o.swarm_size = 10;
  o.max_iterations = 150;
  o.patience = 150;
  const State state = run(o, coefficients, coefficients.initial_particles());
  EXPECT_EQ(state.dimension(), 4);
  // The initial experts score -||e_i - optimum||²; the swarm gets far closer.
  const double best_expert = state.history[0].utilities[0];
  EXPECT_GT(state.best_utility, -1e-2 * std::abs(best_expert)) << "best " << state.best_utility;
  EXPECT_LT((state.best - mix).abs().max().item<float>(), 0.05f) << state.best;
  EXPECT_TRUE(at::allclose(coefficients.to_positions(state.best), mix.matmul(experts), 0, 0.2));
}

TEST(ModelSwarmsOptions, EachInvalidValueThrowsAConfigErrorNamingTheField) {
  struct Case {
    const char* field;
    void (*break_it)(Options&);
  };
  const Case cases[] = {
      {"swarm_size", [](Options& o) { o.swarm_size = 1; }},
      {"max_iterations", [](Options& o) { o.max_iterations = -1; }},
      {"inertia", [](Options& o) { o.inertia = -0.1; }},
      {"cognitive", [](Options& o) { o.cognitive = -0.1; }},
      {"social", [](Options& o) { o.social = std::nan(""); }},
      {"repel", [](Options& o) { o.repel = -1; }},
      {"inertia", [](Options& o) { o.inertia = o.cognitive = o.social = o.repel = 0; }},
      {"step_length", [](Options& o) { o.step_length = 0; }},
      {"step_decay", [](Options& o) { o.step_decay = 1.5; }},
      {"min_step_length", [](Options& o) { o.min_step_length = -0.1; }},
      {"patience", [](Options& o) { o.patience = 0; }},
      {"restart_patience", [](Options& o) { o.restart_patience = 0; }},
      {"crossover_weight_range", [](Options& o) { o.crossover_min = 1.5; o.crossover_max = 0.5; }},
      {"drop_iteration_probability", [](Options& o) { o.drop_iteration_probability = 1.0; }},
      {"drop_particle_probability", [](Options& o) { o.drop_particle_probability = -0.2; }},
  };
  QuadraticBowl bowl(at::zeros({2}));
  for (const auto& c : cases) {
    Options o;
    c.break_it(o);
    try {
      Swarm swarm(o, bowl);
      ADD_FAILURE() << c.field << ": no error";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(cat("search.", c.field)), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(Swarm(Options{}, bowl));
}

TEST(ModelSwarmsOptions, RoundTripThroughJson) {
  Options o;
  o.swarm_size = 7;
  o.inertia = 0.123456789012345;
  o.crossover_min = -0.5;
  o.initial_velocity = swarm::InitialVelocity::kBest;
  o.seed = 18446744073709551615ull;
  const swarm::ModelSwarms algorithm(o, o);
  const auto back = swarm::algorithm_from_json(swarm::to_json(algorithm), "state.json");
  EXPECT_EQ(swarm::to_json(*back), swarm::to_json(algorithm));
  EXPECT_EQ(back->common().seed, o.seed);
  const auto& own = dynamic_cast<const swarm::ModelSwarms&>(*back).options();
  EXPECT_EQ(own.inertia, o.inertia);
  EXPECT_EQ(own.crossover_min, -0.5);
  EXPECT_EQ(own.initial_velocity, swarm::InitialVelocity::kBest);
}

}  // namespace
}  // namespace modelswarm
