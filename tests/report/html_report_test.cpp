#include "modelswarm/report/html_report.h"

#include <fstream>

#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
using nlohmann::json;

json sample_report() {
  return json::parse(R"({
    "utility": {"type": "multiple_choice"}, "seed": 42, "iterations": 3, "stopped_because": "max_iterations",
    "wall_time_s": 12.5, "experts": [{"name": "math", "dev": 0.41, "test": 0.40}, {"name": "code<1>", "dev": 0.35, "test": 0.37}],
    "uniform_average": {"dev": 0.30, "test": 0.31}, "best": {"dev": 0.55, "test": 0.52},
    "config": {"search": {"swarm_size": 4}}
  })");
}

std::vector<json> sample_history() {
  std::vector<json> h;
  for (int k = 0; k <= 3; ++k)
    h.push_back({{"iteration", k}, {"step_length", 1.0}, {"utilities", {0.3 + 0.05 * k, 0.35, 0.41, 0.2}},
                 {"global_best", 0.41 + 0.04 * k}, {"global_worst", 0.2}});
  return h;
}

TEST(HtmlReport, DrawsEveryPartOfTheRunWithoutScriptsOrNetwork) {
  const std::string html = report::render_html(sample_report(), sample_history());
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("global best"), std::string::npos);
  EXPECT_NE(html.find("particle 3"), std::string::npos);   // each particle's trajectory
  EXPECT_NE(html.find("uniform average"), std::string::npos);
  EXPECT_NE(html.find("returned (swarm)"), std::string::npos);
  EXPECT_NE(html.find("Every candidate"), std::string::npos);
  EXPECT_NE(html.find("code&lt;1&gt;"), std::string::npos);  // names are escaped
  EXPECT_NE(html.find("0.550"), std::string::npos);
  EXPECT_NE(html.find("&quot;swarm_size&quot;: 4"), std::string::npos);  // the configuration
}

TEST(HtmlReport, ShowsEveryCandidateOnEachSplitAndTheWarnings) {
  json report = sample_report();
  report["best"] = {{"source", "merge"}, {"name", "ties"}, {"dev", 0.61}, {"validation", 0.58}, {"test", 0.57}};
  report["baselines"] = json::parse(R"([{"kind": "merge", "name": "ties", "dev": 0.61, "validation": 0.58, "test": 0.57}])");
  report["warnings"] = {"the swarm's gain over the best expert on dev (+0.1) shrinks to -0.01 on test"};
  const std::string html = report::render_html(report, sample_history());
  EXPECT_NE(html.find("returned (merge)"), std::string::npos);
  EXPECT_NE(html.find("merge ties"), std::string::npos);
  EXPECT_NE(html.find("0.580"), std::string::npos);  // the validation column
  EXPECT_NE(html.find("Warnings"), std::string::npos);
  EXPECT_NE(html.find("shrinks to -0.01 on test"), std::string::npos);
  EXPECT_EQ(report::render_html(sample_report(), sample_history()).find("Warnings"), std::string::npos);
}

TEST(HtmlReport, WritesReportHtmlAndToleratesATornLastHistoryLine) {
  auto dir = test::temp_dir("run");
  std::ofstream(dir / "report.json") << sample_report().dump();
  {
    std::ofstream history(dir / "history.jsonl");
    for (const auto& h : sample_history()) history << h.dump() << "\n";
    history << "{\"iteration\": 4, \"utilit";  // killed mid-write
  }
  EXPECT_EQ(report::read_history(dir / "history.jsonl").size(), 4u);
  auto r = test::run_cli({"report", dir.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "report.html"));

  auto empty = test::temp_dir("empty");
  auto missing = test::run_cli({"report", empty.string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no report.json"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace modelswarm
