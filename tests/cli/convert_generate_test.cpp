// `modelswarm convert llama2c` then `modelswarm generate`, as a user runs them: the real
// stories260K checkpoint must continue a prompt exactly as llama2.c does, with an adapter as
// PEFT does, and a malformed checkpoint must fail with one line naming the file.
#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "modelswarm/common/atomic_file.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path stories() { return test::shared_dir() / "fixtures" / "stories260K"; }

fs::path convert_stories(const fs::path& out) {
  const auto r = test::run_cli({"-q", "convert", "llama2c", (stories() / "stories260K.bin").string(),
                                (stories() / "tok512.model").string(), out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "convert is quiet with -q";
  return out;
}

TEST(ConvertGenerateCli, GreedyContinuationIsLlama2cs) {
  MS_REQUIRE_SHARED();
  const fs::path model = convert_stories(test::temp_dir("cli") / "stories260K");
  const json reference = json::parse(read_file(stories() / "forward_reference.json"));
  for (const json& c : reference["cases"]) {
    const std::string prompt = c["prompt"];
    const auto r = test::run_cli({"-q", "generate", "--model", model.string(), "--prompt", prompt,
                                  "--max-new-tokens", "40", "--device", "cpu", "--dtype", "float32"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, c["greedy_text"].get<std::string>() + "\n") << c["prompt"];
  }
}

TEST(ConvertGenerateCli, AdapterContinuationIsPefts) {
  MS_REQUIRE_SHARED();
  const fs::path dir = test::temp_dir("cli");
  const fs::path model = convert_stories(dir / "stories260K");
  ASSERT_TRUE(test::run_python("stories_experts.py", {model.string(), "1", (dir / "experts").string()}));
  const fs::path adapter = dir / "experts" / "expert0";
  ASSERT_TRUE(test::run_python("llama2c_oracle.py", {"generate", model.string(), adapter.string(), "Once upon a time",
                                                      "30", (dir / "peft.txt").string()}));
  const auto r = test::run_cli({"-q", "generate", "--model", model.string(), "--adapter", adapter.string(), "--prompt",
                                "Once upon a time", "--max-new-tokens", "30", "--device", "cpu",
                                "--dtype", "float32"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, read_file(dir / "peft.txt") + "\n");
}

TEST(ConvertGenerateCli, SamplingIsReproducibleForASeed) {
  MS_REQUIRE_SHARED();
  const fs::path model = convert_stories(test::temp_dir("cli") / "stories260K");
  auto sample = [&](const std::string& seed) {
    return test::run_cli({"-q", "generate", "--model", model.string(), "--prompt", "Lily", "--max-new-tokens", "30",
                          "--temperature", "1.0", "--top-p", "0.9", "--seed", seed, "--device", "cpu",
                          "--dtype", "float32"});
  };
  const auto a = sample("1"), b = sample("1"), c = sample("2");
  EXPECT_EQ(a.exit_code, 0) << a.output;
  EXPECT_EQ(a.output, b.output);
  EXPECT_NE(a.output, c.output) << "different seeds should sample different stories";
}

// Writes a llama2.c header followed by `floats` zero floats.
fs::path write_bin(const fs::path& path, std::vector<int32_t> header, int64_t floats) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size() * 4));
  out.write(std::string(static_cast<size_t>(floats) * 4, '\0').data(), floats * 4);
  return path;
}

TEST(ConvertGenerateCli, MalformedCheckpointFailsWithOneLineNamingTheFile) {
  const fs::path dir = test::temp_dir("bad");
  // dim 8, hidden 12, 1 layer, 2 heads, 2 kv heads, vocab 10, seq_len 4: 664 floats.
  const std::vector<int32_t> good = {8, 12, 1, 2, 2, 10, 4};
  const std::vector<std::pair<fs::path, std::string>> cases = {
      {write_bin(dir / "truncated.bin", good, 663), "implies 2684 bytes"},
      {write_bin(dir / "lies.bin", {8, 12, 2, 2, 2, 10, 4}, 664), "n_layers 2"},
      {write_bin(dir / "zero.bin", {8, 0, 1, 2, 2, 10, 4}, 664), "hidden_dim is 0"},
      {write_bin(dir / "negative.bin", {8, 12, 1, -2, 2, 10, 4}, 664), "n_heads is -2"},
      {write_bin(dir / "short.bin", {8, 12}, 0), "too short for a llama2.c header"},
  };
  for (const auto& [bin, problem] : cases) {
    const auto r = test::run_cli({"convert", "llama2c", bin.string(), (dir / "tok.model").string(),
                                  (dir / "out").string()});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output.rfind("modelswarm: error: " + bin.string() + ": ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(problem), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_FALSE(fs::exists(dir / "out"));
  }
}

TEST(ConvertGenerateCli, GenerateNeedsAModelAndAPrompt) {
  EXPECT_EQ(test::run_cli({"generate", "--prompt", "x"}).exit_code, 2);
  EXPECT_EQ(test::run_cli({"generate", "--model", "m"}).exit_code, 2);
  EXPECT_EQ(test::run_cli({"generate", "--model", "m", "--prompt", "x", "--top-p", "0"}).exit_code, 2);
  const auto missing = test::run_cli({"generate", "--model", "/nonexistent/model", "--prompt", "x", "--device", "cpu"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("/nonexistent/model"), std::string::npos) << missing.output;
  // A system turn belongs to a chat template: refused before any model loads, for generate and finetune.
  const std::string data = (test::source_dir() / "configs" / "data" / "stories_mc.jsonl").string();
  for (const std::vector<std::string>& command : {std::vector<std::string>{"generate", "--prompt", "x"},
                                                  {"finetune", "--data", data, "--output", "o"}}) {
    std::vector<std::string> args = command;
    args.insert(args.end(), {"--model", "/nonexistent/model", "--system", "Be brief."});
    const auto system_alone = test::run_cli(args);
    EXPECT_EQ(system_alone.exit_code, 2) << command[0] << system_alone.output;
    EXPECT_NE(system_alone.output.find("--system: needs --chat-template"), std::string::npos) << system_alone.output;
  }
}

TEST(BenchCli, TinyPresetReportsEveryPhaseAndExportsItsModelAndData) {
  const fs::path dir = test::temp_dir("bench-export");
  const auto r = test::run_cli({"-q", "bench", "--preset", "tiny", "--batch", "2", "--seq", "16", "--particles", "3",
                                "--compare-particles", "2", "--rank", "2", "--questions", "5", "--choices", "3",
                                "--prompt-tokens", "8", "--choice-tokens", "2", "--gen-prompts", "2", "--gen-tokens",
                                "3", "--device", "cpu", "--dtype", "float32", "--min-seconds", "0", "--matmul-size", "128", "--json",
                                "--export", (dir / "export").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json report = json::parse(r.output);
  EXPECT_EQ(report["model"]["layers"], 5);
  EXPECT_GT(report["matmul_peak"]["flops_per_second"].get<double>(), 0);
  EXPECT_EQ(report["dtype_reason"], "requested");
  for (const char* dtype : {"float32", "bfloat16"})  // both peaks, whichever dtype runs
    EXPECT_GT(report["matmul_peaks"][dtype]["flops_per_second"].get<double>(), 0) << dtype;
  EXPECT_EQ(report["matmul_peaks"]["float32"]["seconds_per_run"], report["matmul_peak"]["seconds_per_run"]);
  const std::map<std::string, size_t> figures = {{"forward", 3}, {"mc", 3}, {"generate", 2}, {"pso", 1}};
  for (const auto& [section, count] : figures) {
    ASSERT_EQ(report[section].size(), count) << section;
    for (const json& f : report[section]) {
      EXPECT_GT(f["seconds_per_run"].get<double>(), 0) << f["name"];
      EXPECT_GT(f["peak_memory_bytes"].get<int64_t>(), 0) << f["name"];
    }
  }
  EXPECT_EQ(report["forward"][0]["tokens_per_run"], 2 * 16);
  EXPECT_EQ(report["forward"][1]["tokens_per_run"], 3 * 2 * 16);
  EXPECT_EQ(report["forward"][2]["particles"], 2);
  // Shared prompts: 5 prompts of 8 tokens, then 1 more token per choice (the first is scored from
  // the prompt's last position); unshared: 5·3 rows of 8 + 1 tokens.
  EXPECT_EQ(report["mc"][0]["tokens_per_run"], 3 * (5 * 8 + 5 * 3 * 1));
  EXPECT_EQ(report["mc"][1]["tokens_per_run"], 2 * (5 * 3 * 9));
  EXPECT_LT(report["mc"][0]["flops_per_run"].get<double>() / 3, report["mc"][1]["flops_per_run"].get<double>() / 2);
  EXPECT_EQ(report["generate"][0]["tokens_per_run"], 3 * 2 * (8 + 2));
  EXPECT_EQ(report["comparisons"].size(), 5u);

  // The export: a model directory, one PEFT adapter per particle, the mc set as JSONL.
  const fs::path exported = dir / "export";
  for (const char* file : {"model/config.json", "model/model.safetensors", "model/tokenizer.json",
                           "particles/0/adapter_config.json", "particles/2/adapter_model.safetensors", "mc.jsonl"})
    EXPECT_TRUE(fs::exists(exported / file)) << file;
  std::ifstream mc(exported / "mc.jsonl");
  std::string line;
  int questions = 0;
  while (std::getline(mc, line)) {
    const json q = json::parse(line);
    EXPECT_EQ(q["prompt_ids"].size(), 8u);
    EXPECT_EQ(q["choice_ids"].size(), 3u);
    ++questions;
  }
  EXPECT_EQ(questions, 5);
}

TEST(BenchCli, RejectsUnknownPresetsPhasesAndComparisonCounts) {
  EXPECT_EQ(test::run_cli({"bench", "--preset", "7b"}).exit_code, 2);
  const auto phase = test::run_cli({"bench", "--phases", "mc,warp", "--device", "cpu"});
  EXPECT_EQ(phase.exit_code, 2);
  EXPECT_NE(phase.output.find("unknown phase \"warp\""), std::string::npos) << phase.output;
  EXPECT_EQ(test::run_cli({"bench", "--particles", "2", "--compare-particles", "3", "--device", "cpu"}).exit_code, 2);
}

}  // namespace
}  // namespace modelswarm
