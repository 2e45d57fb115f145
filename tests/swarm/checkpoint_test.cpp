#include "modelswarm/swarm/checkpoint.h"

#include <ATen/ATen.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>

#include "modelswarm/common/error.h"
#include "modelswarm/swarm/algorithm.h"
#include "modelswarm/swarm/optimiser.h"
#include "swarm/synthetic_problems.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using swarm::State;

// Every registered algorithm on a bowl, with settings that exercise its whole state (Model
// Swarms: restarts and dropped evaluations, so their counters and the RNG matter).
struct Fixture {
  at::Tensor experts;
  test::QuadraticBowl bowl;
  std::shared_ptr<const swarm::Algorithm> algorithm;
  json options;
  explicit Fixture(const std::string& name)
      : experts(at::randn({4, 10}, at::detail::createCPUGenerator(5))), bowl(experts.mean(0) + 0.3) {
    json search = {{"algorithm", name}, {"swarm_size", 9}, {"max_iterations", 30}, {"patience", 30}};
    if (name == "model_swarms") {
      search["restart_patience"] = 2;
      search["drop_particle_probability"] = 0.2;
      search["drop_iteration_probability"] = 0.1;
    }
    algorithm = swarm::algorithm_from_json(search, "test");
    options = swarm::to_json(*algorithm);
  }
  swarm::Optimiser optimiser() { return swarm::Optimiser(*algorithm, bowl); }
};

void expect_identical(const State& a, const State& b) {
  EXPECT_TRUE(at::equal(a.positions, b.positions));
  EXPECT_TRUE(at::equal(a.best, b.best));
  EXPECT_EQ(a.utilities, b.utilities);
  EXPECT_EQ(a.best_utility, b.best_utility);
  EXPECT_EQ(a.best_index, b.best_index);
  EXPECT_EQ(a.iteration, b.iteration);
  EXPECT_EQ(a.iterations_since_improvement, b.iterations_since_improvement);
  EXPECT_EQ(a.evaluations, b.evaluations);
  EXPECT_TRUE(a.rng == b.rng);
  EXPECT_EQ(a.stop_reason, b.stop_reason);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    EXPECT_EQ(t.scalar_type(), b.tensors.at(name).scalar_type()) << name;
    EXPECT_TRUE(at::equal(t, b.tensors.at(name))) << name;
  }
  EXPECT_EQ(a.data, b.data);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t k = 0; k < a.history.size(); ++k) {
    EXPECT_EQ(a.history[k].utilities, b.history[k].utilities) << "iteration " << k;
    EXPECT_EQ(a.history[k].evaluated, b.history[k].evaluated) << "iteration " << k;
    EXPECT_EQ(a.history[k].best, b.history[k].best) << "iteration " << k;
    EXPECT_EQ(a.history[k].extra, b.history[k].extra) << "iteration " << k;
  }
}

class Checkpoint : public ::testing::TestWithParam<std::string> {};

TEST_P(Checkpoint, RoundTripsEveryPartOfTheState) {
  Fixture f(GetParam());
  const swarm::Optimiser optimiser = f.optimiser();
  State state = optimiser.initialise(f.experts);
  for (int k = 0; k < 6; ++k) optimiser.step(state);
  state.utilities[3] = -std::numeric_limits<double>::infinity();  // a failed row survives JSON
  state.history.back().extra["tokens"] = 1234;
  const fs::path dir = test::temp_dir("ckpt_roundtrip_" + GetParam());
  swarm::save_checkpoint(dir, state, f.options, {{"config", "task.json"}});
  const swarm::Checkpoint back = swarm::load_checkpoint(dir, at::kCPU);
  expect_identical(state, back.state);
  EXPECT_NO_THROW(f.algorithm->check(back.state, "state.json"));
  EXPECT_EQ(back.state.history.back().extra.at("tokens"), 1234);
  EXPECT_EQ(back.options, f.options);
  EXPECT_EQ(back.options.at("algorithm"), GetParam());
  EXPECT_EQ(back.metadata.at("config"), "task.json");
}

TEST_P(Checkpoint, ResumedRunEqualsAnUninterruptedRunBitForBit) {
  Fixture f(GetParam());
  const swarm::Optimiser optimiser = f.optimiser();
  State uninterrupted = optimiser.initialise(f.experts);
  optimiser.run(uninterrupted);
  ASSERT_EQ(uninterrupted.iteration, 30);

  for (int64_t stop_at : {0, 1, 7, 19, 29}) {
    const fs::path dir = test::temp_dir(cat("ckpt_resume_", GetParam(), "_", stop_at));
    State first = optimiser.initialise(f.experts);
    while (first.iteration < stop_at) optimiser.step(first);
    swarm::save_checkpoint(dir, first, f.options);
    // Keep going a bit and throw it away, as a process killed after the checkpoint would.
    optimiser.step(first);
    swarm::Checkpoint resumed = swarm::load_checkpoint(dir, at::kCPU);
    ASSERT_EQ(resumed.state.iteration, stop_at);
    // The resumed run uses the algorithm the checkpoint names, rebuilt from its options.
    const auto algorithm = swarm::algorithm_from_json(resumed.options, "state.json");
    swarm::Optimiser(*algorithm, f.bowl).run(resumed.state);
    SCOPED_TRACE(cat("interrupted after iteration ", stop_at));
    expect_identical(uninterrupted, resumed.state);
  }
}

TEST_P(Checkpoint, ACrashMidWriteLeavesThePreviousCheckpointWhole) {
  Fixture f(GetParam());
  const swarm::Optimiser swarm = f.optimiser();
  State uninterrupted = swarm.initialise(f.experts);
  swarm.run(uninterrupted);

  const fs::path dir = test::temp_dir("ckpt_crash_" + GetParam());
  State state = swarm.initialise(f.experts);
  for (int k = 0; k < 5; ++k) swarm.step(state);
  swarm::save_checkpoint(dir, state, f.options);
  swarm::save_checkpoint(dir, state, f.options);  // saving the same iteration twice is fine
  // A kill -9 during the next save: its tensor file was only partly written under its final
  // name's temporary sibling, or completely under its final name, and state.json's temporary
  // sibling is torn. The renamed state.json was never reached.
  std::ofstream(dir / ".tensors-6-0.safetensors.tmp-999-0") << "\x10\x00\x00\x00\x00\x00";
  std::ofstream(dir / "tensors-6-0.safetensors") << "half a header";
  std::ofstream(dir / ".state.json.tmp-999-1") << "{\"format\": \"modelswarm-chec";
  swarm::Checkpoint resumed = swarm::load_checkpoint(dir, at::kCPU);
  EXPECT_EQ(resumed.state.iteration, 5);
  swarm.run(resumed.state);
  expect_identical(uninterrupted, resumed.state);

  // The next save clears the debris.
  swarm::save_checkpoint(dir, resumed.state, f.options);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 2) << "state.json and one tensor file";
}

TEST_P(Checkpoint, SurvivesKillDashNineAtAnyMoment) {
  Fixture f(GetParam());
  const swarm::Optimiser swarm = f.optimiser();
  State state = swarm.initialise(f.experts);
  const fs::path dir = test::temp_dir("ckpt_kill_" + GetParam());
  swarm::save_checkpoint(dir, state, f.options);
  std::vector<State> states{state.clone()};
  for (int k = 0; k < 4; ++k) {
    swarm.step(state);
    states.push_back(state.clone());
  }
  const auto t0 = std::chrono::steady_clock::now();
  swarm::save_checkpoint(dir, states[0], f.options);
  const double save_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::set<int64_t> iterations_found;
  for (int trial = 0; trial < 12; ++trial) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Save over and over: no tensor maths here, only file writes.
      for (int round = 0;; ++round) swarm::save_checkpoint(dir, states[(round + 1) % states.size()], f.options);
    }
    ::usleep(5000 + 23000 * trial);  // one save takes tens of ms (three fsyncs)
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    const swarm::Checkpoint loaded = swarm::load_checkpoint(dir, at::kCPU);
    const State& expected = states.at(static_cast<size_t>(loaded.state.iteration));
    expect_identical(expected, loaded.state);
    iterations_found.insert(loaded.state.iteration);
  }
  EXPECT_GE(iterations_found.size(), 2u) << "the kills should land at different points of the save loop (one save takes " << save_ms << " ms)";
}

TEST(CheckpointFiles, DamagedCheckpointsAreReportedWithTheFile) {
  Fixture f("model_swarms");
  const swarm::Optimiser swarm = f.optimiser();
  State state = swarm.initialise(f.experts);
  const fs::path dir = test::temp_dir("ckpt_damaged");
  EXPECT_FALSE(swarm::checkpoint_exists(dir));
  try {
    swarm::load_checkpoint(dir, at::kCPU);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no checkpoint"), std::string::npos) << e.what();
  }
  swarm::save_checkpoint(dir, state, f.options);
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".safetensors") fs::remove(entry.path());
  try {
    swarm::load_checkpoint(dir, at::kCPU);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensors-0-"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "state.json") << "{\"format\": \"modelswarm-checkpoint\", \"version\": 2}";
  try {
    swarm::load_checkpoint(dir, at::kCPU);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("state.json"), std::string::npos) << e.what();
  }
  // A checkpoint of the version before algorithms were plug-ins says what to do.
  std::ofstream(dir / "state.json") << "{\"format\": \"modelswarm-checkpoint\", \"version\": 1}";
  try {
    swarm::load_checkpoint(dir, at::kCPU);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("version 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("another output.dir"), std::string::npos) << e.what();
  }
  // The algorithm's part of a state is checked by the algorithm.
  State broken = state.clone();
  broken.tensors.erase("velocities");
  EXPECT_THROW(f.algorithm->check(broken, "state.json"), Error);
}

INSTANTIATE_TEST_SUITE_P(EveryAlgorithm, Checkpoint, ::testing::ValuesIn(swarm::algorithm_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace modelswarm
