// The README's first command, shortened: `modelswarm search --config configs/demo.json` for two
// iterations on the committed demo assets, with the --seed and --output-dir overrides. Its
// report.json and history.jsonl hold every field the HTML report draws.
#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/device.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

TEST(DemoSearch, ShortRunReportHoldsEverythingTheHtmlReportDraws) {
  const fs::path work = test::temp_dir("demo-search");
  json config = json::parse(read_file(test::source_dir() / "configs" / "demo.json"));
  const fs::path configs = test::source_dir() / "configs";
  config["base_model"] = (configs / config["base_model"].get<std::string>()).string();
  for (auto& expert : config["experts"]) expert = (configs / expert.get<std::string>()).string();
  config["utility"]["data"]["path"] = (configs / config["utility"]["data"]["path"].get<std::string>()).string();
  config["search"]["max_iterations"] = 2;
  config["search"]["swarm_size"] = 8;
  config["utility"]["data"]["dev_size"] = 40;  // CI time: a fifth of the demo's dev and a tenth of its test
  config["utility"]["data"]["test_size"] = 40;
  write_text_atomic(work / "demo.json", config.dump(2));

  const fs::path run = work / "run";
  const auto result = test::run_cli({"-q", "search", "--config", (work / "demo.json").string(), "--seed", "7",
                                     "--output-dir", run.string()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const json report = json::parse(read_file(run / "report.json"));

  // Cards, bars (experts, uniform average, swarm best; dev and test) and the configuration table.
  ASSERT_EQ(report["experts"].size(), 6u);
  for (const auto& e : report["experts"]) {
    EXPECT_TRUE(e["name"].is_string());
    EXPECT_TRUE(e["dev"].is_number()) << e.dump();
    EXPECT_TRUE(e["test"].is_number()) << e.dump();
  }
  for (const char* key : {"uniform_average", "best"}) {
    EXPECT_TRUE(report[key]["dev"].is_number()) << key;
    EXPECT_TRUE(report[key]["test"].is_number()) << key;
  }
  for (const char* key : {"stopped_because", "device", "dtype"}) EXPECT_TRUE(report[key].is_string()) << key;
  // The demo runs in the default dtype: auto's choice for this CPU, with its reason.
  const DtypeChoice expected = choose_dtype("auto", c10::Device(c10::kCPU));
  EXPECT_EQ(report["dtype"], dtype_name(expected.dtype));
  EXPECT_EQ(report["dtype_reason"], expected.reason);
  for (const char* key : {"iterations", "seed", "wall_time_s", "search_time_s", "seconds_per_iteration",
                          "evaluated_tokens"})
    EXPECT_TRUE(report[key].is_number()) << key;
  EXPECT_EQ(report["seed"], 7);
  EXPECT_EQ(report["config"]["search"]["seed"], 7);
  EXPECT_EQ(report["utility"]["type"], "multiple_choice");
  EXPECT_EQ(report["utility"]["dev_examples"], 40);
  EXPECT_EQ(report["utility"]["test_examples"], 40);
  EXPECT_TRUE(report["versions"].is_object());
  EXPECT_TRUE(report["config"].is_object());

  // Curves: per iteration the global best and worst and every particle's utility.
  const std::string history = read_file(run / "history.jsonl");
  std::istringstream lines(history);
  int iterations = 0;
  for (std::string line; std::getline(lines, line); ++iterations) {
    const json h = json::parse(line);
    EXPECT_TRUE(h["iteration"].is_number());
    EXPECT_TRUE(h["global_best"].is_number());
    EXPECT_TRUE(h["global_worst"].is_number());
    EXPECT_EQ(h["utilities"].size(), 8u);
  }
  EXPECT_EQ(iterations, 3);  // the initial evaluation and two iterations

  const std::string html = read_file(run / "report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("language-2000"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

}  // namespace
}  // namespace modelswarm
