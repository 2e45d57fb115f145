// `modelswarm search` end to end on the real stories260K model (converted from llama2.c) with
// five stand-in LoRA experts made by PEFT, scored by multiple-choice accuracy.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "modelswarm/formats/safetensors.h"
#include "modelswarm/lora/adapter.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// The converted model and its experts, made once per test process.
struct StoriesPool {
  fs::path model;
  std::vector<fs::path> experts;
};

const StoriesPool& stories_pool() {
  static StoriesPool pool = [] {
    StoriesPool p;
    const fs::path dir = fs::path(MODELSWARM_BINARY_DIR) / "test-tmp" / ("stories-pool-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path fixture = test::shared_dir() / "fixtures" / "stories260K";
    auto converted = test::run_cli({"convert", "llama2c", (fixture / "stories260K.bin").string(),
                                    (fixture / "tok512.model").string(), (dir / "stories260K").string()});
    if (converted.exit_code != 0) {
      ADD_FAILURE() << converted.output;
      return p;
    }
    p.model = dir / "stories260K";
    const fs::path experts = test::cached_oracle("stories-experts", "stories_experts.py", {p.model.string(), "5"});
    if (experts.empty()) return p;
    for (int e = 0; e < 5; ++e) p.experts.push_back(experts / ("expert" + std::to_string(e)));
    return p;
  }();
  return pool;
}

fs::path write_config(const fs::path& dir, const json& overrides = json::object()) {
  const auto& pool = stories_pool();
  json experts = json::array();
  for (const auto& e : pool.experts) experts.push_back(e.string());
  json config = {
      {"base_model", pool.model.string()},
      {"experts", experts},
      {"utility", {{"type", "multiple_choice"}, {"metric", "acc_norm"},
                   {"data", {{"path", (test::source_dir() / "configs" / "data" / "stories_mc.jsonl").string()},
                             {"dev_size", 24}, {"test_size", 16}}}}},
      {"search", {{"swarm_size", 8}, {"max_iterations", 4}, {"patience", 10}, {"seed", 3}}},
      {"output", {{"dir", (dir / "run").string()}, {"top_k", 2}}},
  };
  config.merge_patch(overrides);
  std::ofstream(dir / "task.json") << config.dump(2);
  return dir / "task.json";
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

TEST(SearchJob, ResumingAfterKill9EndsWithTheUninterruptedResult) {
  MS_REQUIRE_SHARED();
  ASSERT_EQ(stories_pool().experts.size(), 5u);
  const json settings = {{"search", {{"max_iterations", 6}, {"patience", 10}}}};
  auto reference_dir = test::temp_dir("reference");
  auto reference = test::run_cli({"search", "--config", write_config(reference_dir, settings).string()});
  ASSERT_EQ(reference.exit_code, 0) << reference.output;

  for (int kill_after_lines : {2, 4}) {
    SCOPED_TRACE(kill_after_lines);
    auto dir = test::temp_dir("killed" + std::to_string(kill_after_lines));
    const fs::path config = write_config(dir, settings);
    const pid_t child = ::fork();
    if (child == 0) {
      ::execl(MODELSWARM_CLI, MODELSWARM_CLI, "-q", "search", "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Kill -9 once the history shows enough iterations (a checkpoint may be mid-write).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream history(dir / "run" / "history.jsonl");
      const auto lines = std::count(std::istreambuf_iterator<char>(history), std::istreambuf_iterator<char>(), '\n');
      if (lines >= kill_after_lines) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    auto resumed = test::run_cli({"search", "--config", config.string(), "--resume"});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    const json a = read_json(reference_dir / "run" / "report.json");
    const json b = read_json(dir / "run" / "report.json");
    EXPECT_EQ(a["best"]["dev"], b["best"]["dev"]);
    EXPECT_EQ(a["best"]["particle"], b["best"]["particle"]);
    auto wa = safetensors::File::open(reference_dir / "run" / "best" / "adapter_model.safetensors");
    auto wb = safetensors::File::open(dir / "run" / "best" / "adapter_model.safetensors");
    ASSERT_EQ(wa.entries().size(), wb.entries().size());
    for (const auto& e : wa.entries()) EXPECT_TRUE(wa.tensor(e).equal(wb.tensor(e.name))) << e.name;
  }
}

}  // namespace
}  // namespace modelswarm
