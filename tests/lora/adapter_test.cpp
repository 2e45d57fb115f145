#include "modelswarm/lora/adapter.h"

#include <fstream>

#include "lora/peft_fixture.h"
#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;

at::Tensor delta(const lora::Module& m) { return m.scaling * at::matmul(m.B, m.A); }

std::string error_of(const fs::path& dir) {
  try {
    lora::read_adapter(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LoraAdapter, ReadsPeftAdaptersWithPeftsOwnDeltaWeights) {
  const auto& fixture = test::peft_fixture();
  ASSERT_FALSE(fixture.empty());
  for (const char* name : {"plain", "patterns", "rank16"}) {
    SCOPED_TRACE(name);
    auto adapter = lora::read_adapter(fixture / name);
    auto expected = test::read_deltas(fixture / (std::string(name) + ".delta.safetensors"));
    ASSERT_EQ(adapter.modules.size(), expected.size());
    for (const auto& m : adapter.modules) {
      ASSERT_TRUE(expected.count(m.name)) << m.name;
      EXPECT_LT(test::max_abs_diff(delta(m), expected.at(m.name)), 1e-6) << m.name;
    }
  }
}

TEST(LoraAdapter, AppliesRsLoraRankAndAlphaPatterns) {
  const auto& fixture = test::peft_fixture();
  ASSERT_FALSE(fixture.empty());
  auto adapter = lora::read_adapter(fixture / "patterns");
  // r 8, alpha 16, rsLoRA: s = alpha / sqrt(r); rank_pattern down_proj: 2, layers.1...q_proj: 6;
  // alpha_pattern v_proj: 3, up_proj: 5.
  const auto& c = adapter.config;
  EXPECT_TRUE(c.use_rslora);
  EXPECT_EQ(c.rank_for("model.layers.0.mlp.down_proj"), 2);
  EXPECT_EQ(c.rank_for("model.layers.1.self_attn.q_proj"), 6);
  EXPECT_EQ(c.rank_for("model.layers.0.self_attn.q_proj"), 8);
  EXPECT_DOUBLE_EQ(c.scaling_for("model.layers.0.self_attn.k_proj"), 16 / std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(c.scaling_for("model.layers.0.self_attn.v_proj"), 3 / std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(c.scaling_for("model.layers.1.mlp.down_proj"), 16 / std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(c.scaling_for("model.layers.0.mlp.up_proj"), 5 / std::sqrt(8.0));
  EXPECT_EQ(adapter.find("model.layers.1.self_attn.q_proj")->A.size(0), 6);
}

TEST(LoraAdapter, WrittenAdaptersLoadInPeftWithTheSameDeltas) {
  const auto& fixture = test::peft_fixture();
  ASSERT_FALSE(fixture.empty());
  auto dir = test::temp_dir("written");
  auto adapter = lora::read_adapter(fixture / "patterns");  // mixed ranks and scalings
  lora::write_adapter(dir / "ours", adapter.modules, "tiny-llama");
  ASSERT_TRUE(test::run_python("peft_oracle.py", {"load", (fixture / "base").string(), (dir / "ours").string(),
                                                  (dir / "ours.delta.safetensors").string()}));
  auto peft_deltas = test::read_deltas(dir / "ours.delta.safetensors");
  ASSERT_EQ(peft_deltas.size(), adapter.modules.size());
  for (const auto& m : adapter.modules) EXPECT_LT(test::max_abs_diff(delta(m), peft_deltas.at(m.name)), 1e-6) << m.name;

  // And our reader reads our writer.
  auto back = lora::read_adapter(dir / "ours");
  ASSERT_EQ(back.modules.size(), adapter.modules.size());
  for (size_t i = 0; i < back.modules.size(); ++i)
    EXPECT_LT(test::max_abs_diff(delta(back.modules[i]), delta(adapter.modules[i])), 1e-6) << back.modules[i].name;
}

TEST(LoraAdapter, RefusesWhatTheSearchCannotCombine) {
  const auto& fixture = test::peft_fixture();
  ASSERT_FALSE(fixture.empty());
  EXPECT_NE(error_of(fixture / "dora").find("DoRA"), std::string::npos) << error_of(fixture / "dora");
  EXPECT_NE(error_of(fixture / "embedding").find("embedding"), std::string::npos) << error_of(fixture / "embedding");

  auto dir = test::temp_dir("refuse");
  fs::copy(fixture / "plain", dir / "bias");
  std::ofstream(dir / "bias" / "adapter_config.json") << R"({"peft_type":"LORA","r":4,"lora_alpha":8,"bias":"all"})";
  EXPECT_NE(error_of(dir / "bias").find("bias"), std::string::npos);
  fs::copy(fixture / "plain", dir / "save");
  std::ofstream(dir / "save" / "adapter_config.json") << R"({"peft_type":"LORA","r":4,"modules_to_save":["lm_head"]})";
  EXPECT_NE(error_of(dir / "save").find("modules_to_save"), std::string::npos);
  fs::create_directories(dir / "pickle");
  std::ofstream(dir / "pickle" / "adapter_config.json") << R"({"peft_type":"LORA"})";
  std::ofstream(dir / "pickle" / "adapter_model.bin") << "pickle";
  EXPECT_NE(error_of(dir / "pickle").find("pickle"), std::string::npos);
  fs::copy(fixture / "plain", dir / "rank");
  std::ofstream(dir / "rank" / "adapter_config.json") << R"({"peft_type":"LORA","r":5})";
  EXPECT_NE(error_of(dir / "rank").find("r = 5"), std::string::npos) << error_of(dir / "rank");
  fs::copy(fixture / "plain", dir / "badjson");
  std::ofstream(dir / "badjson" / "adapter_config.json") << R"({"peft_type":"LORA",)";
  EXPECT_NE(error_of(dir / "badjson").find("invalid JSON"), std::string::npos);
}

}  // namespace
}  // namespace modelswarm
