// The search-quality suite (scripts/quality.sh, docs/QUALITY.md) in CI: one seed of one target
// through the script, with the targets written by the library (what make_demo --quality-targets
// writes) and a short search. The table comes out with the returned adapter's row, and the run's
// report.json holds what the table compares against (experts and uniform average on test).
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/demo/quality_targets.h"
#include "modelswarm/swarm/algorithm.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string quoted(const std::string& s) { return "'" + s + "'"; }  // paths without quotes in them

// Runs `command` through the shell; stdout and stderr together.
test::CliResult run_shell(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(QualitySmoke, OneSeedOfOneTargetPrintsTheTableWithTheReturnedAdapter) {
  const fs::path work = test::temp_dir("quality-smoke");
  demo::write_quality_targets(work / "data", demo::DemoOptions());
  const fs::path out = work / "out";
  const auto start = std::chrono::steady_clock::now();
  const auto result = run_shell(
      "bash " + quoted((test::source_dir() / "scripts" / "quality.sh").string()) +
      " --seeds 1 --targets capital-currency-2000 --out " + quoted(out.string()) + " --data " +
      quoted((work / "data").string()) + " --build-dir " + quoted(MODELSWARM_BINARY_DIR) +
      " --no-build --set search.swarm_size=6 --set search.max_iterations=2");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* expected : {"### capital-currency-2000", "| capital-2000 |", "| uniform average |",
                               "| **returned adapter** |", "dev→test gap", "**Summary**"})
    EXPECT_NE(result.output.find(expected), std::string::npos) << expected << " is missing from:\n" << result.output;
  EXPECT_EQ(read_file(out / "table.md").substr(0, 20), result.output.substr(result.output.find("## Search-quality"), 20));

  const json report = json::parse(read_file(out / "capital-currency-2000" / "seed-1" / "report.json"));
  ASSERT_EQ(report["experts"].size(), 6u);
  for (const auto& e : report["experts"]) EXPECT_TRUE(e["test"].is_number()) << e.dump();
  EXPECT_TRUE(report["uniform_average"]["test"].is_number());
  EXPECT_TRUE(report["best"]["test"].is_number());
  EXPECT_EQ(report["utility"]["dev_examples"], 150);
  EXPECT_EQ(report["utility"]["test_examples"], 200);
  EXPECT_EQ(report["config"]["search"]["max_iterations"], 2);
  std::cout << "quality smoke run: " << seconds << " s\n";
}

TEST(QualitySmoke, EveryAlgorithmSideBySideOnOneSeedOfOneTarget) {
  const fs::path work = test::temp_dir("quality-algorithms-smoke");
  demo::write_quality_targets(work / "data", demo::DemoOptions());
  const fs::path out = work / "out";
  const auto result = run_shell(
      "bash " + quoted((test::source_dir() / "scripts" / "quality_algorithms.sh").string()) +
      " --seeds 1 --targets capital-currency-2000 --out " + quoted(out.string()) + " --data " +
      quoted((work / "data").string()) + " --build-dir " + quoted(MODELSWARM_BINARY_DIR) +
      " --no-build --set search.swarm_size=6 --set search.max_iterations=2");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto listed = test::run_cli({"search", "--list-algorithms"});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  int algorithms = 0;
  for (const auto& name : swarm::algorithm_names()) {
    ++algorithms;
    EXPECT_NE(listed.output.find(name + "  "), std::string::npos) << listed.output;
    EXPECT_NE(result.output.find("| " + name + " |"), std::string::npos) << name << " is missing from:\n" << result.output;
    // The same budget for each: every iteration runs (patience above max_iterations), 6 rows each.
    const json report = json::parse(read_file(out / name / "capital-currency-2000" / "seed-1" / "report.json"));
    EXPECT_EQ(report["algorithm"], name);
    EXPECT_EQ(report["evaluations"], 6 * 3) << name;
  }
  EXPECT_GE(algorithms, 2);
  EXPECT_NE(result.output.find("### Mean over the targets"), std::string::npos) << result.output;
  EXPECT_EQ(read_file(out / "compare.md").substr(0, 20), result.output.substr(result.output.find("## Search algorithms"), 20));
}

}  // namespace
}  // namespace modelswarm
