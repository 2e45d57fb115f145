// Fine-tuning data in a chat model's format: with a chat template, each record's prompt is the
// user turn the utilities score (`chat_template`, `system_prompt`), and the loss falls on the
// assistant's reply and the end-of-turn token.
#include <fstream>

#include "formats/smollm2_fixture.h"
#include "modelswarm/train/sft_data.h"
#include "modelswarm/utility/utility.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;

TEST(SftData, ChatTemplateMakesThePromptAUserTurnAndTheCompletionTheReply) {
  MS_REQUIRE_SMOLLM2();
  ASSERT_FALSE(test::smollm2_model().empty());
  const auto tok = tokenizer::Tokenizer::from_model_dir(test::smollm2_model());
  const fs::path data = test::temp_dir("sft-chat") / "data.jsonl";
  std::ofstream(data) << R"({"prompt": "What is 2 + 3?", "completion": "5"})" << "\n";

  train::SftPromptFormat format;
  format.chat = utility::ChatTemplate::parse("chatml", "test");
  format.system = "Be brief.";
  const auto examples = train::read_sft_data(data, tok, {}, 512, format);
  ASSERT_EQ(examples.size(), 1u);
  const auto& e = examples[0];

  const std::string turn = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n"
                           "<|im_start|>assistant\n";
  const std::vector<int64_t> prompt = tok.encode(turn, /*add_special_tokens=*/false);
  ASSERT_EQ(e.prompt_tokens, static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(std::vector<int64_t>(e.tokens.begin(), e.tokens.begin() + e.prompt_tokens), prompt);
  const std::vector<int64_t> reply(e.tokens.begin() + e.prompt_tokens, e.tokens.end());
  EXPECT_EQ(reply, (std::vector<int64_t>{*tok.token_to_id("5"), *tok.token_to_id("<|im_end|>")}));

  // Without a template the prompt is the record's text as it is.
  const auto plain = train::read_sft_data(data, tok, {}, 512);
  EXPECT_EQ(plain[0].prompt_tokens, static_cast<int64_t>(tok.encode("What is 2 + 3?", true).size()));
}

}  // namespace
}  // namespace modelswarm
