// Which rank this process is, from torchrun's variables or Slurm's, and a clear error for a
// malformed launch.
#include "modelswarm/dist/world.h"

#include <cstdlib>
#include <map>
#include <optional>

#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm::dist {
namespace {

const char* const kVariables[] = {"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                                  "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID", "TORCHELASTIC_USE_AGENT_STORE",
                                  "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT"};

// Sets exactly `values` among the launch variables for its lifetime, then restores them.
class Environment {
 public:
  explicit Environment(const std::map<std::string, std::string>& values) {
    for (const char* name : kVariables) {
      const char* old = std::getenv(name);
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
      ::unsetenv(name);
    }
    for (const auto& [name, value] : values) ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~Environment() {
    for (const auto& [name, value] : saved_) {
      if (value) ::setenv(name.c_str(), value->c_str(), 1);
      else ::unsetenv(name.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST(World, ASingleProcessWithoutLaunchVariables) {
  const Environment env({});
  const World w = World::from_environment();
  EXPECT_FALSE(w.distributed());
  EXPECT_TRUE(w.writer());
  const Environment one({{"WORLD_SIZE", "1"}, {"RANK", "0"}});
  EXPECT_FALSE(World::from_environment().distributed());
}

TEST(World, ReadsTorchrunsVariables) {
  const Environment env({{"WORLD_SIZE", "4"}, {"RANK", "2"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "node7"},
                         {"MASTER_PORT", "29501"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                         {"TORCHELASTIC_RUN_ID", "abc"}, {"TORCHELASTIC_RESTART_COUNT", "1"}});
  const World w = World::from_environment();
  EXPECT_TRUE(w.distributed());
  EXPECT_FALSE(w.writer());
  EXPECT_EQ(w.world_size, 4);
  EXPECT_EQ(w.rank, 2);
  EXPECT_EQ(w.local_rank, 0);
  EXPECT_EQ(w.master_addr, "node7");
  EXPECT_EQ(w.port, 29501);
  EXPECT_TRUE(w.agent_store);
  EXPECT_EQ(w.prefix, "modelswarm/abc/1/");  // a restarted attempt does not read the last one's keys
}

TEST(World, ReadsSlurmsVariablesWhenTorchrunsAreAbsent) {
  const Environment env({{"SLURM_NTASKS", "16"}, {"SLURM_PROCID", "9"}, {"SLURM_LOCALID", "1"},
                         {"MASTER_ADDR", "gpu-01"}, {"MASTER_PORT", "23456"}});
  const World w = World::from_environment();
  EXPECT_EQ(w.world_size, 16);
  EXPECT_EQ(w.rank, 9);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.master_addr, "gpu-01");
  EXPECT_FALSE(w.agent_store);  // rank 0 serves the store
}

TEST(World, AMalformedLaunchIsOneErrorNamingTheVariable) {
  auto error = [](const std::map<std::string, std::string>& values) {
    const Environment env(values);
    return test::message_of<ConfigError>([] { World::from_environment(); });
  };
  EXPECT_NE(error({{"WORLD_SIZE", "two"}}).find("WORLD_SIZE=two: expected a non-negative integer"), std::string::npos);
  EXPECT_NE(error({{"WORLD_SIZE", "2"}, {"RANK", "2"}}).find("rank 2 is not below the world size 2"), std::string::npos);
  EXPECT_NE(error({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "0"}}).find("MASTER_ADDR is not set"), std::string::npos);
  EXPECT_NE(error({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "70000"}}).find("MASTER_PORT=70000"),
            std::string::npos);
}

}  // namespace
}  // namespace modelswarm::dist
