// `modelswarm search` end to end on the real stories260K model (converted from llama2.c) with
// five stand-in LoRA experts made by PEFT, scored by multiple-choice accuracy; and runs that
// survive: kill -9 at chosen and random moments then --resume, a second search on a busy run
// directory, a full disk, an unwritable output.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "cli/child_process_fixture.h"
#include "modelswarm/common/atomic_file.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/swarm/checkpoint.h"
#include "search/stories_fixture.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

using test::stories_pool;

fs::path write_config(const fs::path& dir, const json& overrides = json::object()) {
  return test::write_stories_task(dir, overrides);
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

TEST(SearchJob, RunsEndToEndAndWritesEveryOutput) {
  MS_REQUIRE_SHARED();
  ASSERT_EQ(stories_pool().experts.size(), 5u);
  auto dir = test::temp_dir("e2e");
  const fs::path config = write_config(dir);
  auto r = test::run_cli({"search", "--config", config.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path run = dir / "run";
  for (const char* f : {"best/adapter_config.json", "best/adapter_model.safetensors", "history.jsonl", "report.json",
                        "report.html", "search.log", "checkpoint/state.json"})
    EXPECT_TRUE(fs::exists(run / f)) << f;
  EXPECT_EQ(std::distance(fs::directory_iterator(run / "top_k"), fs::directory_iterator()), 2);

  const json report = read_json(run / "report.json");
  ASSERT_EQ(report["experts"].size(), 5u);
  double best_expert = -1;
  for (const auto& e : report["experts"]) best_expert = std::max(best_expert, e["dev"].get<double>());
  EXPECT_GE(report["best"]["dev"].get<double>(), best_expert);  // never worse than the best start
  EXPECT_TRUE(report["best"]["test"].is_number());
  EXPECT_TRUE(report["uniform_average"]["dev"].is_number());
  EXPECT_EQ(report["iterations"].get<int>(), 4);
  // history: the initial evaluation plus one line per iteration, every particle's utility
  std::ifstream history(run / "history.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(history, line)) {
    auto h = json::parse(line);
    EXPECT_EQ(h["utilities"].size(), 8u);
    ++lines;
  }
  EXPECT_EQ(lines, 5);

  auto inspect = test::run_cli({"inspect", (run / "best").string()});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("PEFT LoRA adapter"), std::string::npos);

  // The --json summary is one line of JSON on stdout.
  const auto summary_start = r.output.rfind("\n{\"");
  ASSERT_NE(summary_start, std::string::npos) << r.output;
  EXPECT_NO_THROW(json::parse(r.output.substr(summary_start + 1)));

  // A second search on the same directory needs --resume; --resume of a finished run keeps its result.
  auto again = test::run_cli({"search", "--config", config.string()});
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("--resume"), std::string::npos) << again.output;

  // CI regression gate.
  auto gate = test::run_cli({"search", "--config", config.string(), "--resume", "--expect-min-utility", "1.5"});
  EXPECT_EQ(gate.exit_code, 3) << gate.output;
}

// ---- runs that survive: kill -9, a second search, a full disk, an unwritable directory ----

// Small enough to run several times per test, long enough (5 iterations) to be killed mid-way.
const json kShortSearch = {{"search", {{"swarm_size", 6}, {"max_iterations", 5}, {"patience", 10}}},
                           {"utility", {{"data", {{"dev_size", 12}, {"test_size", 8}}}}}};

std::vector<std::string> search_args(const fs::path& config, bool resume) {
  std::vector<std::string> args = {"-q", "search", "--config", config.string()};
  if (resume) args.push_back("--resume");
  return args;
}

// The uninterrupted run, once per test process, and how long it took.
struct Reference {
  fs::path run;
  double seconds = 0;
};
const Reference& reference_run() {
  static const Reference reference = [] {
    Reference r;
    const fs::path dir = test::temp_dir("reference");
    const auto start = std::chrono::steady_clock::now();
    const auto done = test::run_modelswarm(search_args(write_config(dir, kShortSearch), false));
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(done.exit_code, 0) << done.err;
    r.run = dir / "run";
    return r;
  }();
  return reference;
}

// history.jsonl without the wall times, which no two runs share.
std::vector<json> history_of(const fs::path& run) {
  std::vector<json> lines;
  std::ifstream in(run / "history.jsonl");
  for (std::string line; std::getline(in, line);) {
    json record = json::parse(line);
    record.erase("wall_time_s");
    lines.push_back(record);
  }
  return lines;
}

// What an interruption must not change: the returned adapter and the swarm's best particle, the best adapter's bytes
// and the history of every iteration.
void expect_same_result(const fs::path& reference, const fs::path& run) {
  const json a = read_json(reference / "report.json"), b = read_json(run / "report.json");
  EXPECT_EQ(a["best"]["dev"], b["best"]["dev"]);
  EXPECT_EQ(a["best"]["name"], b["best"]["name"]);
  EXPECT_EQ(a["swarm_best"]["particle"], b["swarm_best"]["particle"]);
  EXPECT_EQ(a["iterations"], b["iterations"]);
  for (const char* file : {"adapter_model.safetensors", "adapter_config.json"})
    EXPECT_TRUE(read_file(reference / "best" / file) == read_file(run / "best" / file)) << "best/" << file << " differs";
  EXPECT_EQ(history_of(reference), history_of(run));
}

void expect_uninterrupted_result(const fs::path& run) { expect_same_result(reference_run().run, run); }

int checkpoint_iteration(const fs::path& run) {
  return static_cast<int>(swarm::load_checkpoint(run / "checkpoint", c10::Device(c10::kCPU)).state.iteration);
}

// The one line a failed command prints on stderr (ASSERTs that there is exactly one).
std::string one_error_line(const test::ChildResult& r) {
  const auto lines = test::lines_of(r.err);
  EXPECT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(r.signal, 0) << r.err;
  return lines.empty() ? "" : lines.front();
}

TEST(SearchJob, KilledInsideCheckpointWritesResumesToTheUninterruptedResult) {
  MS_REQUIRE_SHARED();
  ASSERT_EQ(stories_pool().experts.size(), 5u);
  ASSERT_FALSE(reference_run().run.empty());
  // (iteration, stage): the new tensor file or state.json complete but not renamed into place,
  // or state.json replaced but the old tensor file not yet deleted (checkpoint.h).
  for (const auto& [iteration, stage] : std::vector<std::pair<int, std::string>>{{2, "tensors"}, {3, "state"}, {1, "cleanup"}}) {
    SCOPED_TRACE(stage);
    const fs::path dir = test::temp_dir(stage);
    const fs::path config = write_config(dir, kShortSearch);
    test::ChildOptions kill;
    kill.env = {{"MODELSWARM_TEST_KILL_CHECKPOINT", std::to_string(iteration) + ":" + stage}};
    const auto killed = test::run_modelswarm(search_args(config, false), kill);
    ASSERT_EQ(killed.signal, SIGKILL) << "exit " << killed.exit_code << ": " << killed.err;
    // One complete checkpoint survives: the previous iteration's until state.json is renamed.
    EXPECT_EQ(checkpoint_iteration(dir / "run"), stage == "cleanup" ? iteration : iteration - 1);
    const auto resumed = test::run_modelswarm(search_args(config, true));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    expect_uninterrupted_result(dir / "run");
    // The leftovers of the killed write are gone: state.json and one tensor file remain.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir / "run" / "checkpoint"), fs::directory_iterator()), 2);
    EXPECT_FALSE(fs::exists(dir / "run" / ".lock"));
  }
}

// Every search algorithm keeps the guarantee: killed while writing a checkpoint, resumed, the
// run ends exactly as it would have uninterrupted.
class SearchJobOfEveryAlgorithm : public ::testing::TestWithParam<std::string> {};

TEST_P(SearchJobOfEveryAlgorithm, KilledWhileCheckpointingResumesToTheUninterruptedResult) {
  MS_REQUIRE_SHARED();
  json task = kShortSearch;
  task["search"]["algorithm"] = GetParam();
  const fs::path reference = test::temp_dir("reference-" + GetParam());
  const auto done = test::run_modelswarm(search_args(write_config(reference, task), false));
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(read_json(reference / "run" / "report.json")["algorithm"], GetParam());

  const fs::path dir = test::temp_dir("killed-" + GetParam());
  const fs::path config = write_config(dir, task);
  test::ChildOptions kill;
  kill.env = {{"MODELSWARM_TEST_KILL_CHECKPOINT", "3:state"}};
  const auto killed = test::run_modelswarm(search_args(config, false), kill);
  ASSERT_EQ(killed.signal, SIGKILL) << "exit " << killed.exit_code << ": " << killed.err;
  EXPECT_EQ(checkpoint_iteration(dir / "run"), 2);
  const auto resumed = test::run_modelswarm(search_args(config, true));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  expect_same_result(reference / "run", dir / "run");
}

INSTANTIATE_TEST_SUITE_P(EveryAlgorithm, SearchJobOfEveryAlgorithm, ::testing::ValuesIn(swarm::algorithm_names()),
                         [](const auto& info) { return info.param; });

TEST(SearchJob, KilledAtRandomMomentsResumesToTheUninterruptedResult) {
  MS_REQUIRE_SHARED();
  ASSERT_EQ(stories_pool().experts.size(), 5u);
  ASSERT_FALSE(reference_run().run.empty());
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  for (int k = 0; k < 2; ++k) {
    const fs::path dir = test::temp_dir("killed" + std::to_string(k));
    const fs::path config = write_config(dir, kShortSearch);
    const auto start = std::chrono::steady_clock::now();
    const test::Child child = test::start_modelswarm(search_args(config, false), dir / "logs");
    // From the first checkpoint on (before it there is nothing to resume), any moment will do.
    while (!fs::exists(dir / "run" / "checkpoint" / "state.json") &&
           std::chrono::steady_clock::now() - start < std::chrono::minutes(2))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double window = std::max(0.05, 0.9 * (reference_run().seconds - elapsed));
    const auto delay = std::uniform_real_distribution<double>(0, window)(random);
    SCOPED_TRACE("killed " + std::to_string(delay) + " s after the first checkpoint");
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    ::kill(child.pid, SIGKILL);
    const auto killed = test::wait_for(child);
    ASSERT_TRUE(killed.signal == SIGKILL || killed.exit_code == 0) << killed.err;
    const auto resumed = test::run_modelswarm(search_args(config, true));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    expect_uninterrupted_result(dir / "run");
  }
}

TEST(SearchJob, ASecondSearchOnARunDirectoryInUseIsRefused) {
  MS_REQUIRE_SHARED();
  ASSERT_EQ(stories_pool().experts.size(), 5u);
  const fs::path dir = test::temp_dir("busy");
  // The first search must outlive the second's start (a short one can end first on a loaded
  // machine, a clean-clone CI run showed it), so it runs until it is told to stop.
  json long_search = kShortSearch;
  long_search["search"]["max_iterations"] = 10000;
  long_search["search"]["patience"] = 10000;
  const fs::path config = write_config(dir, long_search);
  const test::Child first = test::start_modelswarm(search_args(config, false), dir / "logs");
  const auto start = std::chrono::steady_clock::now();
  while (!fs::exists(dir / "run" / "checkpoint" / "state.json") &&
         std::chrono::steady_clock::now() - start < std::chrono::minutes(2))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (bool resume : {false, true}) {
    const auto second = test::run_modelswarm(search_args(config, resume));
    EXPECT_EQ(second.exit_code, 1);
    const std::string line = one_error_line(second);
    EXPECT_NE(line.find("another search (pid " + std::to_string(first.pid) + ") is using this run directory"),
              std::string::npos)
        << line;
    EXPECT_NE(line.find((dir / "run").string()), std::string::npos) << line;
  }
  ::kill(first.pid, SIGTERM);
  const auto finished = test::wait_for(first);
  ASSERT_EQ(finished.exit_code, 1) << finished.err;  // interrupted, checkpoint saved
  EXPECT_NE(finished.err.find("interrupted after iteration"), std::string::npos) << finished.err;
  EXPECT_FALSE(fs::exists(dir / "run" / ".lock"));  // released with its holder
  EXPECT_EQ(read_file(dir / "run" / "search.log").find("another search"), std::string::npos);
}

TEST(SearchJob, FullDiskFailsCleanlyAndKeepsTheLastGoodCheckpoint) {
  MS_REQUIRE_SHARED();
  ASSERT_EQ(stories_pool().experts.size(), 5u);
  ASSERT_FALSE(reference_run().run.empty());
  const fs::path dir = test::temp_dir("full");
  const fs::path config = write_config(dir, kShortSearch);
  test::ChildOptions kill;
  kill.env = {{"MODELSWARM_TEST_KILL_CHECKPOINT", "2:cleanup"}};
  ASSERT_EQ(test::run_modelswarm(search_args(config, false), kill).signal, SIGKILL);
  ASSERT_EQ(checkpoint_iteration(dir / "run"), 2);

  // A checkpoint's tensor file (6 particles x 3 tensors x 92 KB) no longer fits.
  test::ChildOptions full;
  full.max_file_bytes = 512 * 1024;
  const auto failed = test::run_modelswarm(search_args(config, true), full);
  EXPECT_EQ(failed.exit_code, 1);
  const std::string line = one_error_line(failed);
  EXPECT_NE(line.find((dir / "run" / "checkpoint").string()), std::string::npos) << line;
  EXPECT_NE(line.find("write failed: File too large"), std::string::npos) << line;
  EXPECT_EQ(checkpoint_iteration(dir / "run"), 2);  // the last good one, intact
  // state.json and the tensor file it names; the killed save's leftover went before the write.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "run" / "checkpoint"), fs::directory_iterator()), 2);

  const auto resumed = test::run_modelswarm(search_args(config, true));  // space is back
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  expect_uninterrupted_result(dir / "run");
}

TEST(SearchJob, UnwritableOutputIsAClearErrorAndKeepsTheLastGoodCheckpoint) {
  MS_REQUIRE_SHARED();
  ASSERT_EQ(stories_pool().experts.size(), 5u);
  ASSERT_FALSE(reference_run().run.empty());
  // Tests run as root, which permissions do not stop: a regular file where a directory must be
  // created stops everyone.
  const fs::path dir = test::temp_dir("unwritable");
  std::ofstream(dir / "plain-file") << "not a directory\n";
  const fs::path below_file = write_config(dir, {{"output", {{"dir", (dir / "plain-file" / "run").string()}}}});
  const auto refused = test::run_modelswarm(search_args(below_file, false));
  EXPECT_EQ(refused.exit_code, 1);
  const std::string line = one_error_line(refused);
  EXPECT_NE(line.find((dir / "plain-file" / "run").string() + ": cannot create the run directory: Not a directory"),
            std::string::npos)
      << line;

  // Mid-run: history.jsonl cannot be replaced (a directory took its place).
  const fs::path config = write_config(dir, kShortSearch);
  test::ChildOptions kill;
  kill.env = {{"MODELSWARM_TEST_KILL_CHECKPOINT", "1:cleanup"}};
  ASSERT_EQ(test::run_modelswarm(search_args(config, false), kill).signal, SIGKILL);
  fs::remove(dir / "run" / "history.jsonl");
  fs::create_directories(dir / "run" / "history.jsonl" / "in-the-way");
  const auto failed = test::run_modelswarm(search_args(config, true));
  EXPECT_EQ(failed.exit_code, 1);
  const std::string history_line = one_error_line(failed);
  EXPECT_NE(history_line.find((dir / "run" / "history.jsonl").string()), std::string::npos) << history_line;
  EXPECT_EQ(checkpoint_iteration(dir / "run"), 1);

  fs::remove_all(dir / "run" / "history.jsonl");
  const auto resumed = test::run_modelswarm(search_args(config, true));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  expect_uninterrupted_result(dir / "run");
}

}  // namespace
}  // namespace modelswarm
