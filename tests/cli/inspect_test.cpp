// `modelswarm inspect` and the CLI's exit-code contract, run as a user would run them.
#include <fstream>

#include "lora/peft_fixture.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

size_t line_count(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

TEST(CliInspect, DescribesModelsAdaptersAndSafetensorsFiles) {
  const auto& fixture = test::peft_fixture();
  ASSERT_FALSE(fixture.empty());
  auto model = test::run_cli({"inspect", (fixture / "base").string()});
  EXPECT_EQ(model.exit_code, 0) << model.output;
  EXPECT_NE(model.output.find("model directory"), std::string::npos) << model.output;
  EXPECT_NE(model.output.find("model.layers.1.mlp.down_proj.weight"), std::string::npos) << model.output;

  auto adapter = test::run_cli({"inspect", (fixture / "patterns").string()});
  EXPECT_EQ(adapter.exit_code, 0) << adapter.output;
  EXPECT_NE(adapter.output.find("r: 8, lora_alpha: 16, rsLoRA"), std::string::npos) << adapter.output;
  EXPECT_NE(adapter.output.find("model.layers.1.self_attn.q_proj  rank 6"), std::string::npos) << adapter.output;

  auto file = test::run_cli({"inspect", (fixture / "plain" / "adapter_model.safetensors").string()});
  EXPECT_EQ(file.exit_code, 0) << file.output;
  EXPECT_NE(file.output.find("8 tensors, 896 parameters"), std::string::npos) << file.output;
}

TEST(CliInspect, MalformedFilesGiveOneLineAndANonZeroExit) {
  auto dir = test::temp_dir("bad");
  auto write = [&](const char* name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return (dir / name).string();
  };
  const std::string len8("\x08\x00\x00\x00\x00\x00\x00\x00", 8);
  const std::string huge("\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
  for (const auto& path : {write("truncated.safetensors", "\x10\x00"), write("past_eof.safetensors", huge + "{}"),
                           write("bad_json.safetensors", len8 + "{\"a\":{]}"),
                           write("array.safetensors", len8 + "[1,2,3] ")}) {
    auto r = test::run_cli({"inspect", path});
    EXPECT_EQ(r.exit_code, 1) << path << ": " << r.output;
    EXPECT_EQ(line_count(r.output), 1u) << r.output;
    EXPECT_NE(r.output.find(path), std::string::npos) << r.output;
  }
  auto missing = test::run_cli({"inspect", (dir / "nope").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(line_count(missing.output), 1u) << missing.output;
}

TEST(Cli, VersionUsageAndConfigErrorsUseTheDocumentedExitCodes) {
  auto version = test::run_cli({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("modelswarm " MODELSWARM_VERSION), std::string::npos) << version.output;
  EXPECT_EQ(test::run_cli({"no-such-command"}).exit_code, 2);
  EXPECT_EQ(test::run_cli({"search"}).exit_code, 2);

  auto dir = test::temp_dir("cfg");
  std::ofstream(dir / "task.json") << R"({"base_model": "m", "experts": ["a", "b"], "utility": {"type": "x"},
                                          "output": {"dir": "out"}, "search": {"swarm_size": "big"}})";
  auto bad = test::run_cli({"search", "--config", (dir / "task.json").string()});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("search.swarm_size: expected an integer"), std::string::npos) << bad.output;
  EXPECT_EQ(line_count(bad.output), 1u) << bad.output;
}

}  // namespace
}  // namespace modelswarm
