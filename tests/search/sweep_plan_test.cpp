// The trials a sweep section makes: grids in order, random draws within their ranges and
// reproducible from the sweep's seed, and each trial's search object as `search` reads it.
#include "modelswarm/search/sweep_plan.h"

#include <cmath>
#include <set>

#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm::search {
namespace {
using json = nlohmann::json;

TaskConfig task_with(const json& search, const json& sweep) {
  json task = {{"base_model", (test::source_dir() / "demo" / "base").string()},
               {"experts", {(test::source_dir() / "demo" / "experts" / "capital-1900").string(),
                            (test::source_dir() / "demo" / "experts" / "capital-2000").string()}},
               {"utility", {{"type", "multiple_choice"}, {"data", {{"path", "quiz.jsonl"}}}}},
               {"search", search},
               {"sweep", sweep},
               {"output", {{"dir", "run"}}}};
  return TaskConfig::parse(task, "task.json");
}

TEST(SweepPlan, AGridRunsEveryCombinationWithTheLastKeyFastest) {
  const SweepPlan plan = plan_sweep(task_with({{"seed", 5}}, {{"vary", {{"inertia", {0.1, 0.2}}, {"repel", {0.0, 0.1, 0.3}}}}}));
  EXPECT_EQ(plan.mode, "grid");
  ASSERT_EQ(plan.trials.size(), 6u);
  EXPECT_EQ(plan.trials[0].varied, json({{"inertia", 0.1}, {"repel", 0.0}}));
  EXPECT_EQ(plan.trials[1].varied, json({{"inertia", 0.1}, {"repel", 0.1}}));
  EXPECT_EQ(plan.trials[5].varied, json({{"inertia", 0.2}, {"repel", 0.3}}));
  // The config's own keys stay; the seed is every trial's (common random numbers).
  for (const auto& t : plan.trials) EXPECT_EQ(t.search["seed"], 5);
}

TEST(SweepPlan, RandomDrawsStayInTheirRangesAndFollowTheSweepSeed) {
  const json sweep = {{"vary", {{"step_length", {{"min", 0.001}, {"max", 1.0}, {"log", true}}},
                                {"swarm_size", {{"min", 4}, {"max", 9}, {"integer", true}}},
                                {"inertia", {{"min", 0.2}, {"max", 0.4}}},
                                {"cognitive", {0.1, 0.5}}}},
                      {"trials", 200}, {"seed", 11}};
  const SweepPlan plan = plan_sweep(task_with(json::object(), sweep));
  EXPECT_EQ(plan.mode, "random");
  ASSERT_EQ(plan.trials.size(), 200u);
  std::set<int64_t> sizes;
  int below_0_03 = 0;
  for (const auto& t : plan.trials) {
    const double step = t.search["step_length"];
    EXPECT_GE(step, 0.001);
    EXPECT_LE(step, 1.0);
    below_0_03 += step < 0.0316 ? 1 : 0;  // log-uniform: half the draws below the geometric middle
    ASSERT_TRUE(t.search["swarm_size"].is_number_integer());
    sizes.insert(t.search["swarm_size"].get<int64_t>());
    EXPECT_GE(t.search["inertia"].get<double>(), 0.2);
    EXPECT_LE(t.search["inertia"].get<double>(), 0.4);
    EXPECT_TRUE(t.search["cognitive"] == 0.1 || t.search["cognitive"] == 0.5);
  }
  EXPECT_EQ(sizes, std::set<int64_t>({4, 5, 6, 7, 8, 9}));
  EXPECT_GT(below_0_03, 70);
  EXPECT_LT(below_0_03, 130);
  // The same seed draws the same trials; another seed others.
  EXPECT_EQ(plan_sweep(task_with(json::object(), sweep)).trials[17].search, plan.trials[17].search);
  json other = sweep;
  other["seed"] = 12;
  EXPECT_NE(plan_sweep(task_with(json::object(), other)).trials[17].search, plan.trials[17].search);
}

TEST(SweepPlan, ATrialOfAnotherAlgorithmTakesOnlyTheKeysItReads) {
  const SweepPlan plan = plan_sweep(task_with({{"inertia", 0.3}, {"swarm_size", 6}, {"include_uniform_average", false}},
                                              {{"vary", {{"algorithm", {"model_swarms", "cma_es"}},
                                                         {"sigma", {0.2}}}}}));
  ASSERT_EQ(plan.trials.size(), 2u);
  EXPECT_EQ(plan.trials[0].search,
            json({{"algorithm", "model_swarms"}, {"inertia", 0.3}, {"swarm_size", 6}, {"include_uniform_average", false}}));
  EXPECT_EQ(plan.trials[0].varied, json({{"algorithm", "model_swarms"}}));
  EXPECT_EQ(plan.trials[1].search,
            json({{"algorithm", "cma_es"}, {"sigma", 0.2}, {"swarm_size", 6}, {"include_uniform_average", false}}));
  EXPECT_EQ(plan.trials[1].varied, json({{"algorithm", "cma_es"}, {"sigma", 0.2}}));
}

TEST(SweepPlan, ReplicatesRunEachConfigurationWithConsecutiveSeedsAfterTheBaseConfiguration) {
  const SweepPlan plan = plan_sweep(task_with({{"seed", 7}, {"inertia", 0.3}},
                                              {{"vary", {{"inertia", {0.1, 0.5}}}}, {"include_base", true}, {"replicates", 3}}));
  ASSERT_EQ(plan.trials.size(), 9u);  // (the config's own search, 0.1, 0.5) × 3 seeds
  for (size_t t = 0; t < plan.trials.size(); ++t) {
    EXPECT_EQ(plan.trials[t].id, static_cast<int64_t>(t));
    EXPECT_EQ(plan.trials[t].configuration, static_cast<int64_t>(t / 3));
    EXPECT_EQ(plan.trials[t].replicate, static_cast<int64_t>(t % 3));
    EXPECT_EQ(plan.trials[t].search["seed"], 7 + t % 3);
  }
  EXPECT_EQ(plan.trials[0].varied, json::object());
  EXPECT_EQ(plan.trials[0].search["inertia"], 0.3);
  EXPECT_EQ(plan.trials[4].search["inertia"], 0.1);
  EXPECT_EQ(plan.trials[8].search["inertia"], 0.5);
  const std::string error = test::message_of<ConfigError>([] {
    plan_sweep(task_with(json::object(), {{"vary", {{"seed", {1, 2}}}}, {"replicates", 2}}));
  });
  EXPECT_NE(error.find("sweep.vary.seed: cannot vary with replicates"), std::string::npos) << error;
}

TEST(SweepPlan, EarlyStoppingRungsComeAfterTheMinimumAndThenEveryFew) {
  EarlyStopping e;
  e.after = 3;
  e.every = 2;
  std::vector<int64_t> rungs;
  for (int64_t i = 0; i <= 9; ++i)
    if (e.is_rung(i)) rungs.push_back(i);
  EXPECT_EQ(rungs, std::vector<int64_t>({3, 5, 7, 9}));
  EXPECT_FALSE(EarlyStopping().is_rung(5));  // off by default
}

TEST(SweepPlan, BadSectionsNameTheKey) {
  auto error = [](const json& sweep) {
    return test::message_of<ConfigError>([&] { plan_sweep(task_with(json::object(), sweep)); });
  };
  EXPECT_NE(error({{"vary", json::object()}}).find("sweep.vary: names no key"), std::string::npos);
  EXPECT_NE(error({{"vary", {{"inertia", {{"min", 0.1}, {"max", 0.2}}}}}}).find("trials: required in random mode"),
            std::string::npos);
  EXPECT_NE(error({{"vary", {{"inertia", {{"min", 0.5}, {"max", 0.2}}}}}, {"trials", 2}}).find("sweep.vary.inertia.max"),
            std::string::npos);
  EXPECT_NE(error({{"vary", {{"inertia", {{"min", 0}, {"max", 0.2}, {"log", true}}}}}, {"trials", 2}})
                .find("positive for a log range"),
            std::string::npos);
  EXPECT_NE(error({{"vary", {{"inertia", "fast"}}}}).find("a list of values"), std::string::npos);
  EXPECT_NE(error({{"vary", {{"inertia", json::array()}}}}).find("at least one value"), std::string::npos);
  EXPECT_NE(error({{"vary", {{"inertia", {0.1, 0.2}}}}, {"mode", "grid"}, {"trials", 3}}).find("a grid of these keys has 2 trials"),
            std::string::npos);
  EXPECT_NE(error({{"vary", {{"inertia", {0.1}}}}, {"mode", "bayes"}}).find("sweep.mode"), std::string::npos);
  EXPECT_NE(error({{"vary", {{"inertia", {0.1}}}}, {"selection", "test"}}).find("sweep.selection"), std::string::npos);
  EXPECT_NE(error({{"vary", {{"inertia", {0.1}}}}, {"budget", 3}}).find("budget"), std::string::npos);
  EXPECT_NE(error({{"vary", {{"swarm_size", {1}}}}}).find("sweep trial 0"), std::string::npos);
  EXPECT_NE(error({{"vary", {{"algorithm", {"bayes"}}}}}).find("unknown \"bayes\""), std::string::npos);
}

}  // namespace
}  // namespace modelswarm::search
