// The committed expert pool of docs/REAL.md (models/smollm2-experts) on the model converted from
// the PyPI GGUF: every expert loads onto it and is scored beside the base model in one `eval`,
// on real questions, in SmolLM2's chat format.
#include <nlohmann/json.hpp>

#include <fstream>

#include "formats/smollm2_fixture.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

TEST(Smollm2Experts, CommittedExpertsLoadOnTheConvertedModelAndAreScored) {
  MS_REQUIRE_SMOLLM2();
  MS_REQUIRE_SHARED();
  ASSERT_FALSE(test::smollm2_model().empty());
  const fs::path experts = test::source_dir() / "models" / "smollm2-experts";
  const fs::path dir = test::temp_dir("smollm2-experts");
  const std::vector<std::string> names = {"commonsense_qa", "openbook_qa", "arithmetic", "svamp"};
  json task = {{"base_model", test::smollm2_model().string()},
               {"experts", json::array()},
               {"device", "cpu"},
               {"utility", {{"type", "multiple_choice"},
                            {"chat_template", "chatml"},
                            {"system_prompt", "You are a helpful AI assistant named SmolLM, trained by Hugging Face"},
                            {"data", {{"path", (test::shared_dir() / "datasets" / "commonsense_qa.jsonl").string()},
                                      {"dev_size", 4}, {"test_size", 0}}}}},
               {"output", {{"dir", (dir / "run").string()}}}};
  for (const auto& n : names) task["experts"].push_back((experts / n).string());
  const fs::path config = dir / "task.json";
  std::ofstream(config) << task.dump(2);

  const auto r = test::run_cli({"-q", "eval", "--config", config.string(), "--split", "dev", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json scores = json::parse(r.output);
  ASSERT_EQ(scores["models"].size(), 5u);
  EXPECT_EQ(scores["models"][0]["name"], "base");
  for (size_t i = 0; i < names.size(); ++i) {
    const json& m = scores["models"][i + 1];
    EXPECT_EQ(m["name"], names[i]);
    const double acc = m["dev"]["utility"];
    EXPECT_TRUE(acc >= 0.0 && acc <= 1.0) << m.dump();
  }
}

}  // namespace
}  // namespace modelswarm
