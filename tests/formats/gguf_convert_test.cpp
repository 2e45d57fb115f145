// `convert gguf` on a real model: SmolLM2-135M-Instruct (llama, grouped-query attention, tied
// embeddings, byte-level BPE, chat template) must give the next-token logits transformers gives
// when it loads the same GGUF, on plain and chat-formatted prompts.
#include <nlohmann/json.hpp>

#include "formats/smollm2_fixture.h"
#include "modelswarm/common/atomic_file.h"
#include "modelswarm/formats/gguf_convert.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/model/transformer.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

fs::path transformers_reference() {
  return test::cached_oracle("smollm2-transformers", "gguf_model_oracle.py", {test::smollm2_gguf().string()});
}

TEST(GgufConvert, ConfigStatesTheRealModelsShape) {
  MS_REQUIRE_SMOLLM2();
  const json config = gguf::hf_config(gguf::File::open(test::smollm2_gguf()));
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["num_hidden_layers"], 30);
  EXPECT_EQ(config["hidden_size"], 576);
  EXPECT_EQ(config["intermediate_size"], 1536);
  EXPECT_EQ(config["num_attention_heads"], 9);
  EXPECT_EQ(config["num_key_value_heads"], 3);
  EXPECT_EQ(config["head_dim"], 64);
  EXPECT_EQ(config["vocab_size"], 49152);
  EXPECT_EQ(config["tie_word_embeddings"], true);  // the file has no output.weight
  EXPECT_DOUBLE_EQ(config["rope_theta"].get<double>(), 100000.0);
}

TEST(GgufConvert, NextTokenLogitsMatchTransformersOnTheSameGguf) {
  MS_REQUIRE_SMOLLM2();
  const fs::path model_dir = test::smollm2_model();
  const fs::path reference = transformers_reference();
  ASSERT_FALSE(model_dir.empty());
  ASSERT_FALSE(reference.empty());
  const json cases = json::parse(read_file(reference / "reference.json"))["cases"];
  const at::Tensor expected = safetensors::File::open(reference / "logits.safetensors").tensor("logits");
  const auto model = model::Transformer::load(model_dir, at::kCPU, at::kFloat);
  const auto tokenizer = tokenizer::Tokenizer::from_model_dir(model_dir);

  ASSERT_EQ(cases.size(), 7u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& c = cases[i];
    const bool plain = c["kind"] == "plain";
    const std::vector<int64_t> ids = tokenizer.encode(c["text"].get<std::string>(), /*add_special_tokens=*/plain);
    ASSERT_EQ(json(ids), c["input_ids"]) << "token ids of " << c["text"];
    const int64_t n = static_cast<int64_t>(ids.size());
    const at::Tensor logits = model.forward(at::tensor(ids).unsqueeze(0), at::ones({1, n}, at::kBool), nullptr)[0][n - 1];
    EXPECT_LT(test::max_abs_diff(logits, expected[i]), 2e-3) << c["text"];
    EXPECT_EQ(logits.argmax().item<int64_t>(), expected[i].argmax().item<int64_t>()) << c["text"];
  }
}

TEST(GgufConvert, Bfloat16WeightsAreTheFloat32OnesRounded) {
  MS_REQUIRE_SMOLLM2();
  const gguf::File file = gguf::File::open(test::smollm2_gguf());
  const json config = gguf::hf_config(file);
  const auto f32 = gguf::hf_weights(file, config, at::kFloat);
  const auto bf16 = gguf::hf_weights(file, config, at::kBFloat16);
  ASSERT_EQ(f32.size(), bf16.size());
  EXPECT_EQ(f32.size(), 2u + 30u * 9u);  // embedding, final norm; 9 tensors a layer (lm_head is tied)
  for (const auto& [name, w] : f32) {
    ASSERT_EQ(bf16.at(name).scalar_type(), at::kBFloat16) << name;
    EXPECT_TRUE(at::equal(bf16.at(name), w.to(at::kBFloat16))) << name;
  }
}

}  // namespace
}  // namespace modelswarm
