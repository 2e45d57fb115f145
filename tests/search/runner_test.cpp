#include "modelswarm/search/runner.h"

#include <ATen/ATen.h>

#include <csignal>
#include <fstream>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/report/html_report.h"
#include "modelswarm/search/run_lock.h"
#include "modelswarm/search/stop_signal.h"
#include "modelswarm/swarm/algorithm.h"
#include "swarm/synthetic_problems.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using search::RunOutcome;
using search::Runner;
using search::RunSettings;

// The bowl, raising a signal (as Ctrl-C would) during its n-th call.
class SignalledBowl : public test::QuadraticBowl {
 public:
  SignalledBowl(at::Tensor optimum, int64_t signal_on_call, int signal)
      : QuadraticBowl(std::move(optimum)), signal_on_call_(signal_on_call), signal_(signal) {}
  std::vector<double> evaluate(const at::Tensor& positions) override {
    auto u = QuadraticBowl::evaluate(positions);
    if (calls == signal_on_call_) std::raise(signal_);
    return u;
  }

 private:
  int64_t signal_on_call_;
  int signal_;
};

nlohmann::json small_search(const std::string& algorithm = "model_swarms") {
  nlohmann::json search = {{"algorithm", algorithm}, {"swarm_size", 6}, {"max_iterations", 12}, {"patience", 12}};
  if (algorithm == "model_swarms") search["restart_patience"] = 2;
  return search;
}

struct SmallSearch {
  at::Tensor experts = at::randn({3, 6}, at::detail::createCPUGenerator(21));
  at::Tensor optimum = experts.mean(0);
  std::shared_ptr<const swarm::Algorithm> algorithm;
  explicit SmallSearch(const std::string& name = "model_swarms")
      : algorithm(swarm::algorithm_from_json(small_search(name), "test")) {}
  const swarm::Algorithm& options() const { return *algorithm; }
};

std::vector<nlohmann::json> history_without_times(const fs::path& file) {
  auto lines = report::read_history(file);
  for (auto& line : lines) line.erase("wall_time_s");
  return lines;
}

TEST(Runner, RunsToTheEndWritingACheckpointAndOneHistoryLinePerIteration) {
  SmallSearch s;
  test::QuadraticBowl bowl(s.optimum);
  const fs::path run_dir = test::temp_dir("runner_full");
  int callbacks = 0;
  Runner runner(s.options(), bowl, {run_dir});
  auto result = runner.run(s.experts, [&](swarm::State& state) {
    ++callbacks;
    state.history.back().extra["tokens"] = 100 * state.iteration;
  });
  EXPECT_EQ(result.outcome, RunOutcome::kFinished);
  EXPECT_EQ(result.state.iteration, 12);
  EXPECT_EQ(callbacks, 13);
  const auto lines = report::read_history(runner.history_file());
  ASSERT_EQ(lines.size(), 13u);
  for (size_t k = 0; k < lines.size(); ++k) {
    EXPECT_EQ(lines[k].at("iteration"), k);
    EXPECT_EQ(lines[k].at("tokens"), 100 * k);
    EXPECT_EQ(lines[k].at("utilities").get<std::vector<double>>(), result.state.history[k].utilities);
  }
  EXPECT_TRUE(fs::exists(runner.checkpoint_dir() / "state.json"));

  // Starting again over it is refused; resuming a finished run changes nothing.
  EXPECT_THROW(Runner(s.options(), bowl, {run_dir}).run(s.experts), ConfigError);
  auto again = Runner(s.options(), bowl, {run_dir, /*resume=*/true}).run(s.experts);
  EXPECT_EQ(again.state.iteration, 12);
  EXPECT_TRUE(at::equal(again.state.best, result.state.best));
}

TEST(Runner, ResumingWithoutACheckpointIsAClearError) {
  SmallSearch s;
  test::QuadraticBowl bowl(s.optimum);
  try {
    Runner(s.options(), bowl, {test::temp_dir("runner_empty"), true}).run(s.experts);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("nothing to resume"), std::string::npos) << e.what();
  }
}

class RunnerOfEveryAlgorithm : public ::testing::TestWithParam<std::string> {};

TEST_P(RunnerOfEveryAlgorithm, SigintFinishesTheIterationCheckpointsAndResumesToTheSameResult) {
  SmallSearch s(GetParam());
  test::QuadraticBowl plain(s.optimum);
  const fs::path reference_dir = test::temp_dir("runner_reference_" + GetParam());
  Runner reference(s.options(), plain, {reference_dir});
  const auto expected = reference.run(s.experts);

  for (int signal : {SIGINT, SIGTERM}) {
    const fs::path run_dir = test::temp_dir(cat("runner_signal_", GetParam(), "_", signal));
    // Call 1 is the initial evaluation, call 4 is iteration 3's.
    SignalledBowl bowl(s.optimum, 4, signal);
    search::RunResult interrupted;
    {
      search::StopSignal handlers;
      interrupted = Runner(s.options(), bowl, {run_dir, false, "modelswarm search --config t.json --resume"})
                        .run(s.experts);
    }
    EXPECT_EQ(interrupted.outcome, RunOutcome::kInterrupted);
    EXPECT_EQ(interrupted.state.iteration, 3);
    EXPECT_EQ(report::read_history(run_dir / "history.jsonl").size(), 4u);

    // A crash may also have left a torn line behind.
    std::ofstream(run_dir / "history.jsonl", std::ios::app) << "{\"iteration\": 4, \"util";
    search::clear_stop_request();
    test::QuadraticBowl fresh(s.optimum);
    const auto resumed = Runner(s.options(), fresh, {run_dir, true}).run(s.experts);
    EXPECT_EQ(resumed.outcome, RunOutcome::kFinished);
    EXPECT_TRUE(at::equal(resumed.state.positions, expected.state.positions));
    EXPECT_TRUE(at::equal(resumed.state.best, expected.state.best));
    EXPECT_EQ(resumed.state.best_utility, expected.state.best_utility);
    EXPECT_EQ(history_without_times(run_dir / "history.jsonl"), history_without_times(reference_dir / "history.jsonl"));
  }
}

TEST(Runner, ResumeRefusesChangedSearchOptionsButMayExtendTheRun) {
  SmallSearch s;
  test::QuadraticBowl bowl(s.optimum);
  const fs::path run_dir = test::temp_dir("runner_options");
  Runner(s.options(), bowl, {run_dir}).run(s.experts);

  nlohmann::json changed = small_search();
  changed["inertia"] = 0.9;
  try {
    Runner(*swarm::algorithm_from_json(changed, "test"), bowl, {run_dir, true}).run(s.experts);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("search.inertia"), std::string::npos) << e.what();
  }
  // Another algorithm is refused by name, before any of the keys that differ with it.
  try {
    Runner(*swarm::algorithm_from_json(small_search("random_search"), "test"), bowl, {run_dir, true}).run(s.experts);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("search.algorithm: \"random_search\" differs"), std::string::npos) << e.what();
  }

  nlohmann::json longer = small_search();
  longer["max_iterations"] = 15;
  longer["patience"] = 100;
  const auto extended = Runner(*swarm::algorithm_from_json(longer, "test"), bowl, {run_dir, true}).run(s.experts);
  EXPECT_EQ(extended.state.iteration, 15);
  EXPECT_EQ(report::read_history(run_dir / "history.jsonl").size(), 16u);
}

INSTANTIATE_TEST_SUITE_P(EveryAlgorithm, RunnerOfEveryAlgorithm, ::testing::ValuesIn(swarm::algorithm_names()),
                         [](const auto& info) { return info.param; });

TEST(RunLock, ASecondSearchOnTheSameRunDirectoryIsRefused) {
  const fs::path run_dir = test::temp_dir("lock");
  {
    search::RunLock held = search::RunLock::acquire(run_dir);
    try {
      search::RunLock::acquire(run_dir);
      ADD_FAILURE() << "second lock granted";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("another search"), std::string::npos) << message;
      EXPECT_NE(message.find(cat("pid ", ::getpid())), std::string::npos) << message;
    }
    SmallSearch s;
    test::QuadraticBowl bowl(s.optimum);
    EXPECT_THROW(Runner(s.options(), bowl, {run_dir}).run(s.experts), Error);
    EXPECT_FALSE(fs::exists(run_dir / "checkpoint"));
  }
  EXPECT_NO_THROW(search::RunLock::acquire(run_dir));  // released with its holder
}

TEST(StopSignal, TheFirstSignalOnlyAsksTheSearchToStop) {
  {
    search::StopSignal handlers;
    EXPECT_FALSE(search::stop_requested());
    std::raise(SIGTERM);
    EXPECT_TRUE(search::stop_requested());
  }
  struct sigaction now {};
  sigaction(SIGTERM, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);  // restored
  search::StopSignal fresh;
  EXPECT_FALSE(search::stop_requested());
}

}  // namespace
}  // namespace modelswarm
