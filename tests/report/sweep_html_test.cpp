#include "modelswarm/report/sweep_html.h"

#include <fstream>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
using nlohmann::json;
namespace fs = std::filesystem;

json sample_summary() {
  return json::parse(R"({
    "utility": {"type": "multiple_choice", "metric": "acc"}, "selection": "validation",
    "varied": {"inertia": {"kind": "range", "log": false}, "step_length": {"kind": "range", "log": true},
               "algorithm": {"kind": "choice"}, "restart": {"kind": "choice"}},
    "winner": 3, "trials": 5, "mode": "random", "seed": 7,
    "evaluations": 1234, "engine_evaluations": 900, "wall_time_s": 12.5,
    "baselines": {"best_expert": {"name": "capital-2000", "dev": 0.5, "validation": 0.52, "test": 0.49},
                  "uniform_average": {"dev": 0.6, "validation": 0.58, "test": 0.61}},
    "sweep": {"vary": {"inertia": {"min": 0.1, "max": 0.9}}, "mode": "random", "trials": 5,
              "early_stopping": {"after": 5, "every": 5, "keep": 0.5}}
  })");
}

json trial(int id, double inertia, double step_length, const std::string& algorithm, bool restart,
           const std::string& status, const std::string& stopped_because, json dev, json validation, json test) {
  return {{"trial", id},
          {"varied", {{"inertia", inertia}, {"step_length", step_length}, {"algorithm", algorithm}, {"restart", restart}}},
          {"search", {{"inertia", inertia}}},
          {"status", status},
          {"stopped_because", stopped_because},
          {"iterations", 12},
          {"evaluations", 240},
          {"returned", {{"source", "swarm"}, {"name", "global best (row 4)"}, {"dev", dev}, {"validation", validation}, {"test", test}}},
          {"config", "trials/0" + std::to_string(id) + "/task.json"}};
}

// In file order; ranked on validation they are 3, 0, 4, 2, 1.
std::vector<json> sample_trials() {
  return {trial(0, 0.2, 0.01, "model_swarms", true, "finished", "patience", 0.72, 0.70, 0.69),
          trial(1, 0.5, 0.1, "cma_es", false, "pruned", "pruned at iteration 10", 0.41, 0.40, 0.38),
          trial(2, 0.8, 1.0, "<script>alert(1)</script>", true, "finished", "max_iterations", 0.56, 0.55, nullptr),
          trial(3, 0.31, 0.05, "model_swarms", false, "finished", "patience", 0.9, 0.88, nullptr),
          trial(4, 0.65, 0.3, "cma_es", true, "budget", "sweep budget", 0.61, 0.60, 0.59)};
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + needle.size())) ++n;
  return n;
}

// The plot of one varied key, "" when the page has none.
std::string plot_of(const std::string& html, const std::string& key) {
  const size_t begin = html.find("aria-label='utility on validation against " + key + "'");
  if (begin == std::string::npos) return "";
  return html.substr(begin, html.find("</svg>", begin) - begin);
}

// The ranking table's rows, header left out, each as its cells' text.
std::vector<std::vector<std::string>> ranking_rows(const std::string& html, std::vector<bool>* highlighted = nullptr) {
  const size_t begin = html.find("<table class='ranking'>");
  const std::string table = html.substr(begin, html.find("</table>", begin) - begin);
  std::vector<std::vector<std::string>> rows;
  for (size_t row = table.find("<tr", 1); row != std::string::npos; row = table.find("<tr", row + 1)) {
    const std::string text = table.substr(row, table.find("</tr>", row) - row);
    if (text.find("<th") != std::string::npos) continue;
    std::vector<std::string> cells;
    for (size_t cell = text.find("<td>"); cell != std::string::npos; cell = text.find("<td>", cell + 1))
      cells.push_back(text.substr(cell + 4, text.find("</td>", cell) - cell - 4));
    rows.push_back(cells);
    if (highlighted) highlighted->push_back(text.rfind("<tr class='winner'>", 0) == 0);
  }
  return rows;
}

void write_sweep_dir(const fs::path& dir, const std::string& trailing_jsonl = "") {
  std::ofstream(dir / "sweep.json") << sample_summary().dump();
  std::ofstream trials(dir / "sweep.jsonl");
  for (const json& t : sample_trials()) trials << t.dump() << "\n";
  trials << trailing_jsonl;
}

TEST(SweepHtml, RanksEveryTrialBestFirstWithTheWinnerHighlighted) {
  const std::string html = report::render_sweep_html(sample_summary(), sample_trials());
  EXPECT_NE(html.find("<h1>modelswarm sweep report</h1>"), std::string::npos);
  EXPECT_NE(html.find("multiple_choice (acc) · 5 trials · selection: validation"), std::string::npos);
  std::vector<bool> highlighted;
  const auto rows = ranking_rows(html, &highlighted);
  ASSERT_EQ(rows.size(), 5u);
  const std::vector<std::string> expected_order{"3", "0", "4", "2", "1"};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][0], std::to_string(i + 1));  // rank
    EXPECT_EQ(rows[i][1], expected_order[i]);      // trial id
  }
  EXPECT_EQ(highlighted, (std::vector<bool>{true, false, false, false, false}));
  // rank, trial, algorithm, inertia, restart, step_length, status, iterations, evaluations, dev, validation, test
  EXPECT_EQ(rows[0], (std::vector<std::string>{"1", "3", "model_swarms", "0.31", "false", "0.05", "finished · patience",
                                               "12", "240", "0.900", "0.880", "–"}));
  EXPECT_EQ(rows[4][6], "pruned at iteration 10");
}

TEST(SweepHtml, ShowsTheWinnerAndTheBaselinesOnTheSelectionSplit) {
  const std::string html = report::render_sweep_html(sample_summary(), sample_trials());
  EXPECT_NE(html.find("<span>winner (validation)</span><b>0.880</b>"), std::string::npos);
  EXPECT_NE(html.find("<span>winner (test)</span><b>–</b>"), std::string::npos);
  EXPECT_NE(html.find("<span>best expert capital-2000 (validation)</span><b>0.520</b>"), std::string::npos);
  EXPECT_NE(html.find("<span>uniform average (validation)</span><b>0.580</b>"), std::string::npos);
  EXPECT_NE(html.find("<span>evaluations</span><b>1234</b>"), std::string::npos);
  EXPECT_NE(html.find("<span>wall time</span><b>12.5 s</b>"), std::string::npos);
  // The sweep's configuration: the table and the section as written.
  EXPECT_NE(html.find("<th>mode</th><td>random</td>"), std::string::npos);
  EXPECT_NE(html.find("<th>early_stopping</th><td>{&quot;after&quot;:5,&quot;every&quot;:5,&quot;keep&quot;:0.5}</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<pre>{\n  &quot;early_stopping&quot;"), std::string::npos);
}

TEST(SweepHtml, DrawsOnePlotPerVariedKeyWithOnePointPerTrial) {
  const std::string html = report::render_sweep_html(sample_summary(), sample_trials());
  EXPECT_EQ(count(html, "<svg"), 4u);
  for (const std::string key : {"inertia", "step_length", "algorithm", "restart"}) {
    const std::string plot = plot_of(html, key);
    ASSERT_FALSE(plot.empty()) << key;
    EXPECT_EQ(count(plot, "<circle"), 5u) << key;
    EXPECT_EQ(count(plot, "class='point winner'"), 1u) << key;
    EXPECT_EQ(count(plot, "class='point pruned'"), 1u) << key;  // trial 1, drawn hollow
    EXPECT_NE(plot.find("<title>trial 3 · " + key), std::string::npos) << key;
    // Both baselines as dashed lines across the plot.
    EXPECT_NE(plot.find("<line class='ref expert'"), std::string::npos) << key;
    EXPECT_NE(plot.find("<title>best expert capital-2000 0.520</title>"), std::string::npos) << key;
    EXPECT_NE(plot.find("<line class='ref average'"), std::string::npos) << key;
  }
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(SweepHtml, LeavesOutReferenceLinesForBaselinesWithoutAScore) {
  json summary = sample_summary();
  summary["baselines"]["best_expert"]["validation"] = nullptr;
  summary["baselines"].erase("uniform_average");
  const std::string html = report::render_sweep_html(summary, sample_trials());
  EXPECT_EQ(html.find("<line class='ref"), std::string::npos);
  EXPECT_NE(html.find("<span>uniform average (validation)</span><b>–</b>"), std::string::npos);
}

TEST(SweepHtml, LabelsALogAxisWithRealValues) {
  const std::string html = report::render_sweep_html(sample_summary(), sample_trials());
  const std::string log_plot = plot_of(html, "step_length");
  EXPECT_NE(log_plot.find(">step_length (log scale)</text>"), std::string::npos);
  for (const std::string label : {"0.01", "0.1", "1"})
    EXPECT_NE(log_plot.find("text-anchor='middle'>" + label + "</text>"), std::string::npos) << label;

  const std::string linear_plot = plot_of(html, "inertia");
  EXPECT_EQ(linear_plot.find("log scale"), std::string::npos);
  for (const std::string label : {"0.2", "0.4", "0.6", "0.8"})
    EXPECT_NE(linear_plot.find("text-anchor='middle'>" + label + "</text>"), std::string::npos) << label;
}

TEST(SweepHtml, GivesEachCategoryAColumnLabelledWithItsName) {
  const std::string html = report::render_sweep_html(sample_summary(), sample_trials());
  const std::string algorithms = plot_of(html, "algorithm");
  for (const std::string label : {"cma_es", "model_swarms", "&lt;script&gt;alert(1)&lt;/script&gt;"})
    EXPECT_EQ(count(algorithms, "text-anchor='middle'>" + label + "</text>"), 1u) << label;
  const std::string restart = plot_of(html, "restart");
  for (const std::string label : {"false", "true"})
    EXPECT_EQ(count(restart, "text-anchor='middle'>" + label + "</text>"), 1u) << label;
}

TEST(SweepHtml, ShowsMissingScoresAsDashesAndEscapesEveryName) {
  json summary = sample_summary();
  summary["baselines"]["best_expert"]["name"] = "<b>expert</b>";
  std::vector<json> trials = sample_trials();
  trials[0]["returned"]["validation"] = nullptr;  // no point, ranked last
  trials[4]["iterations"] = nullptr;
  const std::string html = report::render_sweep_html(summary, trials);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("<b>expert"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("best expert &lt;b&gt;expert&lt;/b&gt;"), std::string::npos);
  const auto rows = ranking_rows(html);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[4][1], "0");
  EXPECT_EQ(rows[4][10], "–");  // validation
  EXPECT_EQ(rows[1][1], "4");
  EXPECT_EQ(rows[1][7], "–");  // iterations
  EXPECT_EQ(count(plot_of(html, "inertia"), "<circle"), 4u);
}

TEST(SweepHtml, WritesSweepHtmlAtomically) {
  const fs::path dir = test::temp_dir("sweep");
  write_sweep_dir(dir);
  std::ofstream(dir / "sweep.html") << "old";
  std::vector<fs::path> renamed;
  std::string seen_before_rename;
  {
    BeforeRename hook([&](const fs::path& destination) {
      renamed.push_back(destination);
      seen_before_rename = read_file(dir / "sweep.html");
    });
    EXPECT_EQ(report::write_sweep_html(dir), dir / "sweep.html");
  }
  EXPECT_EQ(renamed, std::vector<fs::path>{dir / "sweep.html"});
  EXPECT_EQ(seen_before_rename, "old");  // the previous page stays whole until the new one is
  EXPECT_EQ(read_file(dir / "sweep.html"), report::render_sweep_html(sample_summary(), sample_trials()));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 3);  // no temporary left
}

TEST(SweepHtml, AMissingOrInvalidSummaryIsAnErrorNamingIt) {
  const fs::path dir = test::temp_dir("sweep");
  write_sweep_dir(dir);
  fs::remove(dir / "sweep.json");
  const std::string missing = test::message_of<Error>([&] { report::write_sweep_html(dir); });
  EXPECT_NE(missing.find((dir / "sweep.json").string()), std::string::npos) << missing;
  EXPECT_FALSE(fs::exists(dir / "sweep.html"));

  std::ofstream(dir / "sweep.json") << "{\"winner\": ";
  const std::string invalid = test::message_of<Error>([&] { report::write_sweep_html(dir); });
  EXPECT_NE(invalid.find((dir / "sweep.json").string() + ": invalid JSON"), std::string::npos) << invalid;

  write_sweep_dir(dir);
  fs::remove(dir / "sweep.jsonl");
  const std::string no_trials = test::message_of<Error>([&] { report::write_sweep_html(dir); });
  EXPECT_NE(no_trials.find((dir / "sweep.jsonl").string()), std::string::npos) << no_trials;
}

TEST(SweepHtml, IgnoresATornLastTrialLineButNotABadMiddleOne) {
  const fs::path dir = test::temp_dir("sweep");
  write_sweep_dir(dir, "{\"trial\": 5, \"varied\": {\"iner");  // killed mid-append
  report::write_sweep_html(dir);
  EXPECT_EQ(ranking_rows(read_file(dir / "sweep.html")).size(), 5u);

  {
    std::ofstream trials(dir / "sweep.jsonl");
    trials << sample_trials()[0].dump() << "\n" << sample_trials()[1].dump() << "\n"
           << "not json\n" << sample_trials()[3].dump() << "\n";
  }
  const std::string bad = test::message_of<Error>([&] { report::write_sweep_html(dir); });
  EXPECT_NE(bad.find((dir / "sweep.jsonl").string() + ":3"), std::string::npos) << bad;
}

}  // namespace
}  // namespace modelswarm

namespace modelswarm {
namespace {

TEST(SweepHtml, WithReplicatesRanksTheConfigurationsByTheirMeanFirst) {
  json summary = sample_summary();
  summary["replicates"] = 2;
  summary["winner_configuration"] = 1;
  summary["configurations"] = json::parse(R"([
    {"configuration": 1, "varied": {"inertia": 0.31}, "returned_mean": {"dev": 0.9, "validation": 0.85, "test": 0.8}},
    {"configuration": 0, "varied": {}, "returned_mean": {"dev": 0.7, "validation": 0.65, "test": null}}])");
  const std::string html = report::render_sweep_html(summary, sample_trials());
  ASSERT_NE(html.find("Configurations, best first (mean over 2 replicates)"), std::string::npos);
  std::vector<bool> highlighted;
  const auto rows = ranking_rows(html, &highlighted);  // the first table: the configurations
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1], "1");
  EXPECT_EQ(rows[1][1], "0 (the config's own search)");
  EXPECT_TRUE(highlighted[0]);
  EXPECT_FALSE(highlighted[1]);
  EXPECT_EQ(rows[1].back(), "–");  // a missing mean
  // Without replicates there is no such table.
  EXPECT_EQ(report::render_sweep_html(sample_summary(), sample_trials()).find("Configurations, best first"),
            std::string::npos);
}

}  // namespace
}  // namespace modelswarm
