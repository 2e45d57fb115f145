// `modelswarm sweep` on the committed demo: every trial runs exactly as `modelswarm search` runs
// its options, the rows trials share are scored once, early stopping and the budget stop trials,
// kill -9 then --resume ends at the uninterrupted result, and bad sweeps are one clear error.
#include <signal.h>

#include <chrono>
#include <map>
#include <set>
#include <random>
#include <thread>

#include "cli/child_process_fixture.h"
#include "cli/demo_task_fixture.h"
#include "modelswarm/common/atomic_file.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

// The small demo task with a 2×2 grid over inertia and step_length, early stopping after 2
// iterations.
json small_sweep() {
  json task = test::small_demo_task();
  task["search"]["patience"] = 10;
  task["sweep"] = {{"vary", {{"inertia", {0.2, 0.6}}, {"step_length", {0.05, 0.5}}}},
                   {"early_stopping", {{"after", 2}, {"every", 10}, {"keep", 0.5}}}};
  return task;
}

fs::path write_task(const fs::path& dir, const json& task) { return test::write_demo_task(dir, task); }

std::vector<std::string> sweep_args(const fs::path& config, bool resume) {
  std::vector<std::string> args = {"-q", "sweep", "--config", config.string(), "--json"};
  if (resume) args.push_back("--resume");
  return args;
}

std::vector<json> json_lines(const fs::path& file) {
  std::vector<json> out;
  for (const auto& line : test::lines_of(read_file(file))) out.push_back(json::parse(line));
  return out;
}

std::vector<json> utilities_of(const fs::path& history) {
  std::vector<json> out;
  for (const auto& h : json_lines(history)) out.push_back(h["utilities"]);
  return out;
}

bool same_file(const fs::path& a, const fs::path& b) { return read_file(a) == read_file(b); }

// Everything of a sweep's result that does not depend on the clock.
void expect_same_sweep(const fs::path& reference, const fs::path& run) {
  EXPECT_EQ(json_lines(reference / "sweep.jsonl").size(), json_lines(run / "sweep.jsonl").size());
  const auto a = json_lines(reference / "sweep.jsonl"), b = json_lines(run / "sweep.jsonl");
  for (size_t t = 0; t < std::min(a.size(), b.size()); ++t) {
    json x = a[t], y = b[t];
    for (json* line : {&x, &y}) line->erase("config"), line->erase("rerun");  // paths of the run directory
    EXPECT_EQ(x, y) << "trial " << t;
  }
  EXPECT_TRUE(same_file(reference / "best" / "adapter_model.safetensors", run / "best" / "adapter_model.safetensors"));
  const json s = json::parse(read_file(reference / "sweep.json")), r = json::parse(read_file(run / "sweep.json"));
  for (const char* key : {"winner", "evaluations", "engine_evaluations", "iterations"}) EXPECT_EQ(s[key], r[key]) << key;
}

const fs::path& reference_sweep() {
  static const fs::path run = [] {
    const fs::path dir = test::temp_dir("sweep-reference");
    const auto done = test::run_modelswarm(sweep_args(write_task(dir, small_sweep()), false));
    EXPECT_EQ(done.exit_code, 0) << done.err;
    return dir / "run";
  }();
  return run;
}

TEST(SweepCli, EachTrialEndsAsSearchWithItsOptionsAndSharedRowsAreScoredOnce) {
  const fs::path run = reference_sweep();
  const auto trials = json_lines(run / "sweep.jsonl");
  ASSERT_EQ(trials.size(), 4u);
  const json summary = json::parse(read_file(run / "sweep.json"));
  EXPECT_EQ(summary["mode"], "grid");
  EXPECT_EQ(summary["selection"], "validation");
  int pruned = 0;
  for (const auto& t : trials) pruned += t["status"] == "pruned" ? 1 : 0;
  EXPECT_EQ(pruned, 2);  // successive halving after 2 iterations keeps half of 4

  // Rerun every trial alone with `search --search trials/NN/search.json` (a pruned trial with
  // max_iterations at its rung): the same utilities every iteration, the same returned adapter.
  for (const auto& t : trials) {
    const int64_t id = t["trial"];
    SCOPED_TRACE("trial " + std::to_string(id));
    json search = json::parse(read_file(t["config"].get<std::string>()));
    EXPECT_EQ(search, t["search"]);
    if (t["status"] == "pruned") search["max_iterations"] = t["iterations"];
    const fs::path dir = test::temp_dir("sweep-trial-" + std::to_string(id));
    write_text_atomic(dir / "search.json", search.dump());
    const auto alone = test::run_modelswarm({"-q", "search", "--config", (run.parent_path() / "task.json").string(),
                                             "--search", (dir / "search.json").string(), "--output-dir",
                                             (dir / "run").string()});
    ASSERT_EQ(alone.exit_code, 0) << alone.err;
    const fs::path trial_dir = fs::path(t["config"].get<std::string>()).parent_path();
    EXPECT_EQ(utilities_of(trial_dir / "history.jsonl"), utilities_of(dir / "run" / "history.jsonl"));
    const json best = json::parse(read_file(dir / "run" / "report.json"))["best"];
    for (const char* key : {"dev", "validation", "test", "name", "source"}) EXPECT_EQ(t["returned"][key], best[key]) << key;
    if (id == summary["winner"].get<int64_t>())
      EXPECT_TRUE(same_file(run / "best" / "adapter_model.safetensors", dir / "run" / "best" / "adapter_model.safetensors"));
  }

  // The winner has the best returned adapter on validation; its report is in the run directory.
  for (const auto& t : trials) EXPECT_LE(t["returned"]["validation"], summary["winner_returned"]["validation"]);
  const json report = json::parse(read_file(run / "report.json"));
  EXPECT_EQ(report["sweep"]["trial"], summary["winner"]);
  EXPECT_TRUE(fs::exists(run / "report.html"));
  EXPECT_NE(read_file(run / "sweep.html").find("<svg"), std::string::npos);

  // Every trial starts from the same experts and uniform average: the engine scores them once.
  int64_t evaluations = 0;
  for (const auto& t : trials) evaluations += t["evaluations"].get<int64_t>();
  EXPECT_EQ(summary["evaluations"], evaluations);
  EXPECT_LE(summary["engine_evaluations"].get<int64_t>(), evaluations - 3 * 7);
}

TEST(SweepCli, KilledWhileCheckpointingResumesToTheUninterruptedResult) {
  const fs::path reference = reference_sweep();
  for (const std::string stage : {"tensors", "state", "cleanup"}) {
    SCOPED_TRACE(stage);
    const fs::path dir = test::temp_dir("sweep-killed-" + stage);
    const fs::path config = write_task(dir, small_sweep());
    test::ChildOptions kill;
    kill.env = {{"MODELSWARM_TEST_KILL_CHECKPOINT", "3:" + stage}};
    const auto killed = test::run_modelswarm(sweep_args(config, false), kill);
    ASSERT_EQ(killed.signal, SIGKILL) << "exit " << killed.exit_code << ": " << killed.err;
    EXPECT_NE(read_file(dir / "run" / "checkpoint" / "sweep.json").find("\"iteration-2\""), std::string::npos);
    const auto resumed = test::run_modelswarm(sweep_args(config, true));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    expect_same_sweep(reference, dir / "run");
    // The killed write's leftovers are gone: sweep.json and one iteration's directory remain.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir / "run" / "checkpoint"), fs::directory_iterator()), 2);
  }
}

TEST(SweepCli, KilledAtRandomMomentsResumesToTheUninterruptedResult) {
  const fs::path reference = reference_sweep();
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  for (int k = 0; k < 3; ++k) {
    // Named in two steps: GCC 12 at -O3 flags "literal" + std::to_string (a known false positive).
    std::string name = "sweep-random-kill-";
    name += std::to_string(k);
    const fs::path dir = test::temp_dir(name);
    const fs::path config = write_task(dir, small_sweep());
    const auto start = std::chrono::steady_clock::now();
    const test::Child child = test::start_modelswarm(sweep_args(config, false), dir / "logs");
    while (!fs::exists(dir / "run" / "checkpoint" / "sweep.json") &&
           std::chrono::steady_clock::now() - start < std::chrono::minutes(2))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const double delay = std::uniform_real_distribution<double>(0, 0.6)(random);
    SCOPED_TRACE("killed " + std::to_string(delay) + " s after the first checkpoint");
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    ::kill(child.pid, SIGKILL);
    const auto killed = test::wait_for(child);
    ASSERT_TRUE(killed.signal == SIGKILL || killed.exit_code == 0) << killed.err;
    const auto resumed = test::run_modelswarm(sweep_args(config, true));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    expect_same_sweep(reference, dir / "run");
  }
}

TEST(SweepCli, ReplicatedConfigurationsAreRankedAndStoppedByTheirMean) {
  json task = small_sweep();
  task["sweep"]["replicates"] = 2;
  task["sweep"]["include_base"] = true;
  task["sweep"]["early_stopping"] = {{"after", 2}, {"keep", 0.5}};
  const fs::path dir = test::temp_dir("sweep-replicates");
  const auto done = test::run_modelswarm(sweep_args(write_task(dir, task), false));
  ASSERT_EQ(done.exit_code, 0) << done.err;
  const json summary = json::parse(done.out);
  const auto trials = json_lines(dir / "run" / "sweep.jsonl");
  ASSERT_EQ(trials.size(), 10u);  // 5 configurations (the config's own search first) × 2 seeds
  ASSERT_EQ(summary["configurations"].size(), 5u);
  // Both replicates of a configuration stop together; 3 of 5 configurations keep running.
  std::map<int64_t, std::set<std::string>> statuses;
  for (const auto& t : trials) {
    EXPECT_EQ(t["search"]["seed"], 3 + t["replicate"].get<int64_t>());
    statuses[t["configuration"]].insert(t["status"]);
  }
  int pruned = 0;
  for (const auto& [c, s] : statuses) {
    EXPECT_EQ(s.size(), 1u) << "configuration " << c;
    pruned += s.count("pruned") ? 1 : 0;
  }
  EXPECT_EQ(pruned, 2);
  // The ranking is by the mean over the replicates; the winner is the best one's best replicate.
  const json& ranking = summary["configurations"];
  for (size_t r = 1; r < ranking.size(); ++r)
    EXPECT_GE(ranking[r - 1]["returned_mean"]["validation"], ranking[r]["returned_mean"]["validation"]);
  const int64_t best = ranking[0]["configuration"];
  double mean = 0;
  for (const auto& t : trials)
    if (t["configuration"] == best) mean += t["returned"]["validation"].get<double>() / 2;
  EXPECT_DOUBLE_EQ(ranking[0]["returned_mean"]["validation"].get<double>(), mean);
  EXPECT_EQ(trials[summary["winner"].get<size_t>()]["configuration"], best);
  EXPECT_EQ(summary["winner_configuration"], best);
}

TEST(SweepCli, TheBudgetStopsEveryTrialBeforeItWouldBeExceeded) {
  json task = small_sweep();
  task["sweep"].erase("early_stopping");
  // Iteration 0 scores the 8 rows every trial starts from once, each later one up to 4 × 8.
  task["sweep"]["max_evaluations"] = 60;
  const fs::path dir = test::temp_dir("sweep-budget");
  const auto done = test::run_modelswarm(sweep_args(write_task(dir, task), false));
  ASSERT_EQ(done.exit_code, 0) << done.err;
  const json summary = json::parse(done.out);
  EXPECT_LE(summary["engine_evaluations"].get<int64_t>(), 60);
  for (const auto& t : json_lines(dir / "run" / "sweep.jsonl")) {
    EXPECT_EQ(t["status"], "budget");
    EXPECT_EQ(t["stopped_because"], "sweep budget");
    EXPECT_LT(t["iterations"].get<int64_t>(), 4);
  }
}

// One line on stderr, exit code 2 (a config error), nothing run.
void expect_config_error(const test::ChildResult& r, const std::vector<std::string>& words) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const auto lines = test::lines_of(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  for (const auto& w : words) EXPECT_NE(lines[0].find(w), std::string::npos) << lines[0];
}

TEST(SweepCli, BadSweepsAreOneClearError) {
  const fs::path dir = test::temp_dir("sweep-bad");
  auto run_with = [&](const std::function<void(json&)>& change, bool resume = false) {
    json task = small_sweep();
    change(task);
    return test::run_modelswarm(sweep_args(write_task(dir, task), resume));
  };
  expect_config_error(run_with([](json& t) { t.erase("sweep"); }), {"task.json", "sweep", "missing"});
  expect_config_error(run_with([](json& t) { t["sweep"]["vary"]["inertia"] = {{"min", 0.1}, {"max", 0.9}}; }),
                      {"sweep.trials", "random mode", "sweep.vary.inertia is a range"});
  expect_config_error(run_with([](json& t) { t["sweep"]["vary"]["intertia"] = {0.1}; }),
                      {"sweep trial 0", "search.intertia", "unknown"});
  expect_config_error(run_with([](json& t) { t["sweep"]["vary"]["inertia"] = {-3.0}; }),
                      {"sweep trial 0", "search.inertia"});
  expect_config_error(run_with([](json& t) { t["sweep"]["vary"]["space"] = {"coefficients"}; }),
                      {"sweep.vary.space", "one search space"});
  expect_config_error(run_with([](json& t) { t["sweep"]["max_evaluations"] = 10; }),
                      {"sweep.max_evaluations", "first iteration"});
  expect_config_error(run_with([](json& t) { t["sweep"]["early_stopping"]["keep"] = 1.5; }),
                      {"sweep.early_stopping.keep"});
  expect_config_error(run_with([](json& t) {}, /*resume=*/true), {"nothing to resume"});

  // A finished sweep is not started over, nor resumed with other trials.
  ASSERT_EQ(run_with([](json&) {}).exit_code, 0);
  expect_config_error(run_with([](json&) {}), {"already holds a sweep", "--resume"});
  expect_config_error(run_with([](json& t) { t["sweep"]["vary"]["inertia"] = {0.3, 0.6}; }, /*resume=*/true),
                      {"differ from those of the sweep being resumed"});
}

}  // namespace
}  // namespace modelswarm
