// `modelswarm eval` end to end on stories260K with two PEFT experts: the accuracies it prints
// equal those transformers + PEFT give for the same choices (tests/python/stories_eval_oracle.py).
#include "modelswarm/common/atomic_file.h"
#include "modelswarm/formats/sentencepiece.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

// The JSON document in CLI output (stdout and stderr are captured together).
json parse_printed_json(const std::string& output) {
  const auto start = output.find("{\n");
  if (start == std::string::npos) return json();
  return json::parse(output.substr(start), nullptr, /*allow_exceptions=*/false);
}

TEST(EvalCli, MultipleChoiceAccuracyMatchesTransformersForBaseAndExperts) {
  MS_REQUIRE_SHARED();
  const fs::path stories = test::shared_dir() / "fixtures" / "stories260K";
  const fs::path work = test::temp_dir("eval");
  const fs::path tokenizer_json = work / "tokenizer.json";
  write_text_atomic(tokenizer_json, sentencepiece::to_tokenizer_json(stories / "tok512.model").dump());
  const fs::path mc = test::source_dir() / "configs" / "data" / "stories_mc.jsonl";
  const fs::path oracle = test::cached_oracle(
      "stories_eval", "stories_eval_oracle.py",
      {(stories / "stories260K.bin").string(), tokenizer_json.string(), mc.string(), "20"});
  ASSERT_FALSE(oracle.empty());
  const json reference = json::parse(read_file(oracle / "reference.json"));

  const json task = {
      {"base_model", (oracle / "model").string()},
      {"experts", {(oracle / "experts" / "expert0").string(), (oracle / "experts" / "expert1").string()}},
      {"device", "cpu"},
      {"dtype", "float32"},
      {"utility", {{"type", "multiple_choice"}, {"data", {{"path", mc.string()}, {"dev_size", 20}, {"shuffle", false}}}}},
      {"output", {{"dir", (work / "run").string()}}}};
  write_text_atomic(work / "task.json", task.dump(2));

  const auto result = test::run_cli({"-q", "eval", "--config", (work / "task.json").string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json printed = parse_printed_json(result.output);
  ASSERT_TRUE(printed.is_object()) << result.output;
  EXPECT_EQ(printed["utility"]["metric"], "acc");
  EXPECT_EQ(printed["utility"]["dev_examples"], 20);
  ASSERT_EQ(printed["models"].size(), 3u);
  for (const auto& model : printed["models"]) {
    const std::string name = model["name"];
    for (const char* split : {"dev", "test"}) {
      EXPECT_DOUBLE_EQ(model[split]["utility"].get<double>(), reference[name][split].get<double>())
          << name << " " << split << "\n" << result.output;
    }
  }

  // The table names every model; --adapter replaces the config's experts.
  const auto table = test::run_cli({"-q", "eval", "--config", (work / "task.json").string(), "--split", "dev",
                                    "--adapter", (oracle / "experts" / "expert1").string()});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("dev acc"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("base"), std::string::npos);
  EXPECT_NE(table.output.find("expert1"), std::string::npos);
  EXPECT_EQ(table.output.find("expert0"), std::string::npos);
  EXPECT_NE(table.output.find("dev: 2 models x 20 examples scored in"), std::string::npos) << table.output;
}

// The tiny Llama and its adapter (model_oracle.py) generate; the tiny reward model of
// reward_oracle.py (same tokenizer) scores. Bounds this wide clamp nothing, so the utility is the
// mean raw reward mapped linearly. The adapter serves as both experts a task needs.
TEST(EvalCli, RewardModelUtilityScoresEveryModelAndRefusesACausalLm) {
  const fs::path models = test::cached_oracle("model", "model_oracle.py", {});
  const fs::path rewards = test::cached_oracle("reward", "reward_oracle.py", {});
  ASSERT_FALSE(models.empty() || rewards.empty());
  const fs::path work = test::temp_dir("eval-reward");
  write_text_atomic(work / "asks.jsonl", "{\"prompt\": \"the cat\"}\n{\"prompt\": \"once upon a time\"}\n"
                                         "{\"prompt\": \"she said\"}\n{\"prompt\": \"in the end\"}\n");
  json task = {{"base_model", (models / "llama" / "model").string()},
               {"experts", {(models / "llama" / "adapter").string(), (models / "llama" / "adapter").string()}},
               {"device", "cpu"},
               {"dtype", "float32"},
               {"utility", {{"type", "reward_model"},
                            {"reward_model", (rewards / "llama" / "model").string()},
                            {"bounds", {-100, 100}},
                            {"max_new_tokens", 6},
                            {"data", {{"path", "asks.jsonl"}, {"dev_size", 2}}}}},
               {"output", {{"dir", "run"}}}};
  write_text_atomic(work / "task.json", task.dump(2));
  const auto result = test::run_cli({"-q", "eval", "--config", (work / "task.json").string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json printed = parse_printed_json(result.output);
  ASSERT_TRUE(printed.is_object()) << result.output;
  EXPECT_EQ(printed["utility"]["metric"], "reward");
  ASSERT_EQ(printed["models"].size(), 3u);
  for (const auto& model : printed["models"])
    for (const char* split : {"dev", "test"}) {
      const double raw = model[split]["metrics"]["raw_reward"], utility = model[split]["utility"];
      EXPECT_NEAR(utility, (raw + 100) / 200, 1e-12) << model[split];
      EXPECT_NE(raw, 0.0);
    }
  EXPECT_EQ(printed["scoring"]["dev"]["models"], 3);
  EXPECT_EQ(printed["scoring"]["dev"]["examples"], 2);
  EXPECT_GT(printed["scoring"]["dev"]["examples_per_second_per_particle"].get<double>(), 0);

  // A causal LM is no reward model: a config error, before any model is loaded.
  task["utility"]["reward_model"] = (rewards / "causal").string();
  write_text_atomic(work / "task.json", task.dump(2));
  const auto refused = test::run_cli({"eval", "--config", (work / "task.json").string()});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("utility.reward_model: " + (rewards / "causal").string() + ": no score head"),
            std::string::npos)
      << refused.output;
}

TEST(EvalCli, BadUtilityConfigExitsWithUsageError) {
  const fs::path work = test::temp_dir("eval");
  const json task = {{"base_model", "model"},
                     {"experts", {"a", "b"}},
                     {"utility", {{"type", "multiple_choise"}}},
                     {"output", {{"dir", "run"}}}};
  write_text_atomic(work / "task.json", task.dump());
  const auto result = test::run_cli({"eval", "--config", (work / "task.json").string()});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("utility.type: unknown utility type \"multiple_choise\" (known: command, composite"),
            std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace modelswarm
