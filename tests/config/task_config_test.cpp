#include "modelswarm/config/task_config.h"

#include <fstream>

#include "modelswarm/common/error.h"
#include "modelswarm/swarm/model_swarms.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

nlohmann::json valid_config() {
  return nlohmann::json::parse(R"({
    "base_model": "./models/base",
    "experts": ["./experts/a", "./experts/b", "./experts/c"],
    "utility": {"type": "multiple_choice", "data": "dev.jsonl"},
    "search": {"swarm_size": 6, "max_iterations": 4, "inertia": 0.2, "crossover_weight_range": [0, 1.5],
               "initial_velocity": "zero", "seed": 7, "space": "coefficients"},
    "output": {"dir": "../runs/x", "top_k": 2}
  })");
}

const swarm::ModelSwarmsOptions& pso(const TaskConfig& c) {
  return dynamic_cast<const swarm::ModelSwarms&>(*c.algorithm).options();
}

std::string error_of(const nlohmann::json& json) {
  try {
    TaskConfig::parse(json, "/cfg/task.json");
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsageError);
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << json.dump();
  return "";
}

TEST(TaskConfig, ParsesAValidConfigWithPathsRelativeToTheFile) {
  auto c = TaskConfig::parse(valid_config(), "/cfg/task.json");
  EXPECT_EQ(c.base_model, "/cfg/models/base");
  EXPECT_EQ(c.experts.size(), 3u);
  EXPECT_EQ(c.output_dir, "/runs/x");
  EXPECT_EQ(c.algorithm->common().swarm_size, 6);
  EXPECT_DOUBLE_EQ(pso(c).inertia, 0.2);
  EXPECT_DOUBLE_EQ(pso(c).cognitive, 0.3);  // default kept
  EXPECT_DOUBLE_EQ(pso(c).crossover_max, 1.5);
  EXPECT_EQ(pso(c).initial_velocity, swarm::InitialVelocity::kZero);
  EXPECT_EQ(c.algorithm->common().seed, 7u);
  EXPECT_EQ(c.space, SearchSpace::kCoefficients);
  EXPECT_EQ(c.top_k, 2);
}

TEST(TaskConfig, PresetsSetTheStartingValuesThatGivenKeysOverride) {
  auto config = valid_config();
  auto c = TaskConfig::parse(config, "/cfg/task.json");
  const swarm::ModelSwarmsOptions defaults;
  EXPECT_DOUBLE_EQ(pso(c).repel, defaults.repel);
  EXPECT_TRUE(c.include_uniform_average);
  EXPECT_EQ(c.baselines.merges, (std::vector<std::string>{"task_arithmetic", "ties", "dare_ties"}));

  config["search"]["preset"] = "reference";
  config["search"]["include_uniform_average"] = false;
  config["baselines"] = {{"merges", {"ties"}}, {"density", 0.3}, {"seed", 5}};
  c = TaskConfig::parse(config, "/cfg/task.json");
  EXPECT_DOUBLE_EQ(pso(c).inertia, 0.2);  // given
  EXPECT_DOUBLE_EQ(pso(c).repel, 0.3);    // the reference code's
  EXPECT_DOUBLE_EQ(pso(c).step_length, 1.0);
  EXPECT_EQ(c.algorithm->common().patience, 10);
  EXPECT_FALSE(c.include_uniform_average);
  EXPECT_EQ(c.baselines.merges, std::vector<std::string>{"ties"});
  EXPECT_DOUBLE_EQ(c.baselines.density, 0.3);
  EXPECT_EQ(c.baselines.seed, 5u);

  config["search"]["preset"] = "fast";
  EXPECT_NE(error_of(config).find("search.preset: must be one of default, reference, got \"fast\""), std::string::npos)
      << error_of(config);
  config["search"].erase("preset");
  config["baselines"]["density"] = 0;
  EXPECT_NE(error_of(config).find("baselines.density: must be in (0, 1]"), std::string::npos) << error_of(config);
}

TEST(TaskConfig, RejectsUnknownKeysAndWrongTypesWithTheKeyPath) {
  auto c = valid_config();
  c["search"]["inertai"] = 0.1;
  EXPECT_NE(error_of(c).find("search.inertai: unknown key"), std::string::npos) << error_of(c);

  c = valid_config();
  c["search"]["inertia"] = "fast";
  EXPECT_NE(error_of(c).find("search.inertia: expected a number, got string"), std::string::npos) << error_of(c);

  c = valid_config();
  c["extra"] = 1;
  EXPECT_NE(error_of(c).find("/cfg/task.json: extra: unknown key"), std::string::npos) << error_of(c);

  c = valid_config();
  c.erase("base_model");
  EXPECT_NE(error_of(c).find("base_model: is required"), std::string::npos) << error_of(c);

  c = valid_config();
  c["experts"] = "a";
  EXPECT_NE(error_of(c).find("experts: expected an array of strings"), std::string::npos) << error_of(c);

  c = valid_config();
  c["output"]["top_k"] = 2.5;
  EXPECT_NE(error_of(c).find("output.top_k: expected an integer"), std::string::npos) << error_of(c);

  c = valid_config();
  c["utility"] = {{"data", "x"}};
  EXPECT_NE(error_of(c).find("utility.type: is required"), std::string::npos) << error_of(c);
}

TEST(TaskConfig, RejectsImpossibleValues) {
  auto c = valid_config();
  c["search"]["swarm_size"] = 0;
  EXPECT_NE(error_of(c).find("swarm_size"), std::string::npos);
  c = valid_config();
  c["search"]["step_length"] = -1;
  EXPECT_NE(error_of(c).find("search.step_length: must be positive, got -1"), std::string::npos) << error_of(c);
  c = valid_config();
  c["search"]["swarm_size"] = 2;  // fewer than the 3 experts
  EXPECT_NE(error_of(c).find("at least the number of experts"), std::string::npos) << error_of(c);
  c = valid_config();
  c["search"]["crossover_weight_range"] = {2, 1};
  EXPECT_NE(error_of(c).find("crossover_weight_range"), std::string::npos);
  c = valid_config();
  c["search"]["initial_velocity"] = "fast";
  EXPECT_NE(error_of(c).find("initial_velocity"), std::string::npos);
  c = valid_config();
  c["search"]["space"] = "weights";
  EXPECT_NE(error_of(c).find("search.space"), std::string::npos);
  c = valid_config();
  c["search"]["seed"] = -3;
  EXPECT_NE(error_of(c).find("search.seed: must not be negative"), std::string::npos) << error_of(c);
  c = valid_config();
  c["search"]["drop_particle_probability"] = 1.5;
  EXPECT_NE(error_of(c).find("drop_particle_probability"), std::string::npos);
  c = valid_config();
  c["experts"] = {"only-one"};
  EXPECT_NE(error_of(c).find("at least 2"), std::string::npos);
}

TEST(TaskConfig, SearchAlgorithmSelectsTheAlgorithmWhoseKeysAreRead) {
  auto config = valid_config();
  EXPECT_EQ(TaskConfig::parse(config, "/cfg/task.json").algorithm->name(), "model_swarms");  // the default

  config["search"] = {{"algorithm", "random_search"}, {"swarm_size", 8}, {"distribution", "box"}, {"seed", 3},
                      {"space", "coefficients"}};
  const auto c = TaskConfig::parse(config, "/cfg/task.json");
  EXPECT_EQ(c.algorithm->name(), "random_search");
  EXPECT_EQ(c.algorithm->common().swarm_size, 8);
  EXPECT_EQ(c.algorithm->common().seed, 3u);
  EXPECT_EQ(swarm::to_json(*c.algorithm).at("distribution"), "box");
  EXPECT_EQ(c.space, SearchSpace::kCoefficients);

  // A key of another algorithm is refused, naming the algorithm in use and the keys it reads.
  config["search"]["inertia"] = 0.3;
  const std::string wrong_key = error_of(config);
  EXPECT_NE(wrong_key.find("search.inertia: unknown key"), std::string::npos) << wrong_key;
  EXPECT_NE(wrong_key.find("search.algorithm \"random_search\" reads distribution"), std::string::npos) << wrong_key;

  config["search"] = {{"algorithm", "simulated_annealing"}};
  const std::string unknown = error_of(config);
  EXPECT_NE(unknown.find("/cfg/task.json: search.algorithm: unknown \"simulated_annealing\" (known: "), std::string::npos)
      << unknown;
  EXPECT_NE(unknown.find("model_swarms"), std::string::npos) << unknown;
}

TEST(TaskConfig, ReportsJsonSyntaxErrorsWithLineAndColumn) {
  auto dir = test::temp_dir("json");
  std::ofstream(dir / "bad.json") << "{\n  \"base_model\": \"x\",\n  oops\n}";
  try {
    TaskConfig::load(dir / "bad.json");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json:3:"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace modelswarm
