// `modelswarm convert gguf` then `modelswarm generate`, as a user runs them on the real
// SmolLM2-135M-Instruct from PyPI: the greedy answer to a chat question, and greedy
// continuations of plain prompts, are the ones transformers generates from the same GGUF.
#include <nlohmann/json.hpp>

#include "formats/smollm2_fixture.h"
#include "modelswarm/common/atomic_file.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// SmolLM2's chat template (tokenizer.chat_template in the GGUF) is ChatML with this default
// system turn when the conversation has none.
constexpr const char* kSmolLmSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

json transformers_cases() {
  const fs::path ref =
      test::cached_oracle("smollm2-transformers", "gguf_model_oracle.py", {test::smollm2_gguf().string()});
  return ref.empty() ? json::array() : json::parse(read_file(ref / "reference.json"))["cases"];
}

test::CliResult generate(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"-q", "generate", "--model", test::smollm2_model().string(), "--device", "cpu",
                                   "--dtype", "float32", "--max-new-tokens", "24"};
  args.insert(args.end(), extra.begin(), extra.end());
  return test::run_cli(args);
}

TEST(ConvertGgufCli, GreedyChatAnswerIsTransformers) {
  MS_REQUIRE_SMOLLM2();
  ASSERT_FALSE(test::smollm2_model().empty());
  int chats = 0;
  for (const json& c : transformers_cases()) {
    if (c["kind"] != "chat") continue;
    ++chats;
    const auto r = generate({"--chat-template", "chatml", "--system", kSmolLmSystem, "--prompt", c["prompt"]});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, c["greedy_text"].get<std::string>() + "\n") << c["prompt"];
  }
  EXPECT_EQ(chats, 3);
  // The question of the issue, answered as a chat model answers it.
  const auto r = generate({"--chat-template", "chatml", "--system", kSmolLmSystem, "--prompt",
                           "What is the capital of France?"});
  EXPECT_EQ(r.output, "The capital of France is Paris.\n");
}

TEST(ConvertGgufCli, GreedyContinuationsAreTransformers) {
  MS_REQUIRE_SMOLLM2();
  ASSERT_FALSE(test::smollm2_model().empty());
  int plain = 0;
  for (const json& c : transformers_cases()) {
    if (c["kind"] != "plain") continue;
    ++plain;
    const auto r = generate({"--prompt", c["prompt"]});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, c["greedy_text"].get<std::string>() + "\n") << c["prompt"];
  }
  EXPECT_EQ(plain, 4);
}

TEST(ConvertGgufCli, WritesADirectoryTransformersLayoutNames) {
  MS_REQUIRE_SMOLLM2();
  const fs::path dir = test::smollm2_model();
  ASSERT_FALSE(dir.empty());
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                        "generation_config.json"})
    EXPECT_TRUE(fs::is_regular_file(dir / f)) << f;
  const json tc = json::parse(read_file(dir / "tokenizer_config.json"));
  EXPECT_NE(tc.value("chat_template", "").find("<|im_start|>"), std::string::npos) << "the GGUF's chat template";
  EXPECT_EQ(tc.value("eos_token", ""), "<|im_end|>");
}

}  // namespace
}  // namespace modelswarm
