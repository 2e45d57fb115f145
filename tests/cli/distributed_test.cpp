// Several devices in one process, and several processes (torchrun, or the same environment
// variables set by hand as Slurm's srun sets them): the same search, to the bit, as one process
// on one device; a rank killed mid-run stops the others within the timeout with one line, and
// --resume on another number of ranks ends at the uninterrupted result.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cli/child_process_fixture.h"
#include "cli/demo_task_fixture.h"
#include "modelswarm/common/atomic_file.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

json small_search() { return test::small_demo_task(); }

fs::path write_task(const fs::path& dir, const json& task) { return test::write_demo_task(dir, task); }

std::vector<json> utilities_of(const fs::path& run) {
  std::vector<json> out;
  for (const auto& line : test::lines_of(read_file(run / "history.jsonl"))) out.push_back(json::parse(line)["utilities"]);
  return out;
}

void expect_same_search(const fs::path& reference, const fs::path& run) {
  EXPECT_EQ(utilities_of(reference), utilities_of(run));
  for (const char* file : {"adapter_model.safetensors", "adapter_config.json"})
    EXPECT_TRUE(read_file(reference / "best" / file) == read_file(run / "best" / file)) << "best/" << file << " differs";
  json a = json::parse(read_file(reference / "report.json"))["best"], b = json::parse(read_file(run / "report.json"))["best"];
  a.erase("path");
  b.erase("path");
  EXPECT_EQ(a, b);
}

const fs::path& one_process() {
  static const fs::path run = [] {
    const fs::path dir = test::temp_dir("one-process");
    const auto done = test::run_modelswarm({"-q", "search", "--config", write_task(dir, small_search()).string()});
    EXPECT_EQ(done.exit_code, 0) << done.err;
    return dir / "run";
  }();
  return run;
}

// A port for a store, free now: the kernel picks it (binding port 0), so that tests running in
// parallel never meet in one store (ports derived from pids did, for neighbouring pids).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::runtime_error("free_port: cannot bind a socket on 127.0.0.1");
  ::close(fd);
  return ntohs(address.sin_port);
}

std::vector<std::pair<std::string, std::string>> rank_env(int rank, int port) {
  return {{"WORLD_SIZE", "2"}, {"RANK", std::to_string(rank)}, {"LOCAL_RANK", std::to_string(rank)},
          {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", std::to_string(port)}, {"OMP_NUM_THREADS", "1"}};
}

struct TwoRanks {
  test::Child rank0, rank1;
};

// Ranks 0 and 1 of a two-rank search launched as Slurm's srun would (by environment alone), each
// with its own config, meeting at a free port; their output goes to DIR/rank0 and DIR/rank1.
TwoRanks start_two_ranks(const fs::path& dir, const fs::path& config0, const fs::path& config1) {
  const int port = free_port();
  test::ChildOptions r0, r1;
  r0.env = rank_env(0, port);
  r1.env = rank_env(1, port);
  return {test::start_modelswarm({"-q", "search", "--config", config0.string()}, dir / "rank0", r0),
          test::start_modelswarm({"-q", "search", "--config", config1.string()}, dir / "rank1", r1)};
}
TwoRanks start_two_ranks(const fs::path& dir, const fs::path& config) { return start_two_ranks(dir, config, config); }

// Until RUN/checkpoint holds a first complete checkpoint (two minutes at most).
void wait_for_first_checkpoint(const fs::path& run) {
  const auto start = std::chrono::steady_clock::now();
  while (!fs::exists(run / "checkpoint" / "state.json") && std::chrono::steady_clock::now() - start < std::chrono::minutes(2))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

TEST(Distributed, TwoDevicesInOneProcessGiveTheOneDeviceResult) {
  json task = small_search();
  task["device"] = {"cpu", "cpu"};
  const fs::path dir = test::temp_dir("two-devices");
  const auto done = test::run_modelswarm({"search", "--config", write_task(dir, task).string()});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  expect_same_search(one_process(), dir / "run");
  // The progress lines show each device's share.
  EXPECT_NE(done.err.find("device 1: 4 rows"), std::string::npos) << done.err;
}

TEST(Distributed, EvalOverTwoDevicesScoresEveryModelAsOnOne) {
  const fs::path dir = test::temp_dir("eval-devices");
  json task = small_search();
  const auto one = test::run_modelswarm({"-q", "eval", "--config", write_task(dir / "one", task).string(), "--json"});
  task["device"] = {"cpu", "cpu"};
  const auto two = test::run_modelswarm({"-q", "eval", "--config", write_task(dir / "two", task).string(), "--json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  const json a = json::parse(one.out)["models"], b = json::parse(two.out)["models"];
  ASSERT_EQ(a.size(), 7u);  // the base model and the six experts
  EXPECT_EQ(a, b);
}

TEST(Distributed, TorchrunWithTwoRanksGivesTheOneProcessResult) {
  const fs::path torchrun = fs::path(MODELSWARM_TEST_PYTHON).parent_path() / "torchrun";
  if (!fs::exists(torchrun)) GTEST_SKIP() << torchrun << " is missing (scripts/setup.sh installs the venv)";
  const fs::path dir = test::temp_dir("torchrun");
  const fs::path config = write_task(dir, small_search());
  const std::string command = torchrun.string() + " --standalone --nproc-per-node 2 --no-python " + MODELSWARM_CLI +
                              " -q search --config " + config.string() + " > " + (dir / "torchrun.log").string() +
                              " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_file(dir / "torchrun.log");
  expect_same_search(one_process(), dir / "run");
}

TEST(Distributed, ASweepUnderTorchrunGivesTheOneProcessSweep) {
  const fs::path torchrun = fs::path(MODELSWARM_TEST_PYTHON).parent_path() / "torchrun";
  if (!fs::exists(torchrun)) GTEST_SKIP() << torchrun << " is missing (scripts/setup.sh installs the venv)";
  json task = small_search();
  task["sweep"] = {{"vary", {{"inertia", {0.2, 0.6}}, {"step_length", {0.05, 0.5}}}},
                   {"early_stopping", {{"after", 2}, {"keep", 0.5}}}};
  const fs::path alone = test::temp_dir("sweep-alone");
  ASSERT_EQ(test::run_modelswarm({"-q", "sweep", "--config", write_task(alone, task).string()}).exit_code, 0);
  const fs::path dir = test::temp_dir("sweep-torchrun");
  const std::string command = torchrun.string() + " --standalone --nproc-per-node 2 --no-python " + MODELSWARM_CLI +
                              " -q sweep --config " + write_task(dir, task).string() + " > " +
                              (dir / "torchrun.log").string() + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_file(dir / "torchrun.log");
  const auto lines_without_paths = [](const fs::path& run) {
    std::vector<json> out;
    for (const auto& line : test::lines_of(read_file(run / "sweep.jsonl"))) {
      json t = json::parse(line);
      t.erase("config");
      t.erase("rerun");
      out.push_back(t);
    }
    return out;
  };
  EXPECT_EQ(lines_without_paths(alone / "run"), lines_without_paths(dir / "run"));
  EXPECT_TRUE(read_file(alone / "run" / "best" / "adapter_model.safetensors") ==
              read_file(dir / "run" / "best" / "adapter_model.safetensors"));
}

TEST(Distributed, TwoRanksLaunchedAsSlurmDoesBothEndWellWithTheOneProcessResult) {
  // Without torchrun's agent, rank 0 serves the store: it must outlive the other rank's last read.
  const fs::path dir = test::temp_dir("slurm-like");
  const fs::path config = write_task(dir, small_search());
  for (int round = 0; round < 3; ++round) {
    fs::remove_all(dir / "run");
    const TwoRanks ranks = start_two_ranks(dir, config);
    const auto first = test::wait_for(ranks.rank1), zero = test::wait_for(ranks.rank0);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    ASSERT_EQ(zero.exit_code, 0) << zero.err;
    EXPECT_EQ(first.out, "");  // rank 0 prints the summary
    expect_same_search(one_process(), dir / "run");
  }
}

TEST(Distributed, AKilledRankStopsTheOtherWithinTheTimeoutAndResumeOnOneProcessEndsTheSame) {
  json task = small_search();
  task["search"]["max_iterations"] = 40;
  task["search"]["patience"] = 1000;
  task["engine"] = {{"rank_timeout_s", 4}};
  const fs::path reference = test::temp_dir("killed-rank-reference");
  ASSERT_EQ(test::run_modelswarm({"-q", "search", "--config", write_task(reference, task).string()}).exit_code, 0);

  const fs::path dir = test::temp_dir("killed-rank");
  const fs::path config = write_task(dir, task);
  const TwoRanks ranks = start_two_ranks(dir, config);
  wait_for_first_checkpoint(dir / "run");
  ::kill(ranks.rank1.pid, SIGKILL);
  const auto killed_at = std::chrono::steady_clock::now();
  test::wait_for(ranks.rank1);
  const auto survivor = test::wait_for(ranks.rank0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();

  EXPECT_EQ(survivor.exit_code, 1) << survivor.err;
  EXPECT_LT(seconds, 4 + 6.0);  // the timeout, and the time to finish the iteration under way
  const auto lines = test::lines_of(survivor.err);
  ASSERT_EQ(lines.size(), 1u) << survivor.err;
  for (const char* words : {"rank 1 sent nothing", "within 4 s", "holds a complete checkpoint", "--resume"})
    EXPECT_NE(lines[0].find(words), std::string::npos) << lines[0];

  // One process takes over where the two stopped.
  const auto resumed = test::run_modelswarm({"-q", "search", "--config", config.string(), "--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  expect_same_search(reference / "run", dir / "run");
}

TEST(Distributed, ASignalToOneRankStopsEveryRankAfterTheSameIteration) {
  json task = small_search();
  task["search"]["max_iterations"] = 40;
  task["search"]["patience"] = 1000;
  const fs::path dir = test::temp_dir("signalled-rank");
  const fs::path config = write_task(dir, task);
  const TwoRanks ranks = start_two_ranks(dir, config);
  wait_for_first_checkpoint(dir / "run");
  ::kill(ranks.rank1.pid, SIGTERM);
  const auto one = test::wait_for(ranks.rank1), zero = test::wait_for(ranks.rank0);
  EXPECT_EQ(one.exit_code, 1) << one.err;
  EXPECT_EQ(zero.exit_code, 1) << zero.err;
  const std::string checkpoint = read_file(dir / "run" / "checkpoint" / "state.json");
  const int64_t iteration = json::parse(checkpoint)["iteration"];
  for (const auto* err : {&zero.err, &one.err})
    EXPECT_NE(err->find("interrupted after iteration " + std::to_string(iteration) + ";"), std::string::npos) << *err;
}

TEST(Distributed, ARankWithAnotherConfigIsRefusedAtRendezvous) {
  const fs::path dir = test::temp_dir("other-config");
  json other = small_search();
  other["search"]["seed"] = 4;
  const fs::path same = write_task(dir / "a", small_search());
  const fs::path different = write_task(dir / "b", other);
  const TwoRanks ranks = start_two_ranks(dir, same, different);
  for (const auto& result : {test::wait_for(ranks.rank0), test::wait_for(ranks.rank1)}) {
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find("rank 1 runs another config or build than rank 0"), std::string::npos) << result.err;
  }
  EXPECT_FALSE(fs::exists(dir / "a" / "run" / "checkpoint"));
}

}  // namespace
}  // namespace modelswarm
