#include "modelswarm/formats/hf_json.h"

#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
using json = nlohmann::json;
using test::message_of;

const json kConfig = json::parse(R"({
  "hidden_size": 64, "rms_norm_eps": 1e-5, "tie_word_embeddings": true, "hidden_act": "silu",
  "eos_token_id": [2, 7], "bos_token_id": 1, "sliding_window": null, "torch_dtype": "float32",
  "rope_scaling": {"rope_type": "linear", "factor": "x"}
})");

TEST(HfJson, TypedGettersReadValuesAndFallBackWhenMissingOrNull) {
  const hf::JsonFields fields(kConfig, "config.json");
  EXPECT_EQ(fields.integer("hidden_size"), 64);
  EXPECT_EQ(fields.positive("hidden_size"), 64);
  EXPECT_DOUBLE_EQ(fields.number("rms_norm_eps", 1e-6), 1e-5);
  EXPECT_DOUBLE_EQ(fields.number("hidden_size", 0), 64.0);  // an integer is a number
  EXPECT_TRUE(fields.boolean("tie_word_embeddings", false));
  EXPECT_EQ(fields.string("hidden_act", "gelu"), "silu");
  EXPECT_EQ(fields.integers("eos_token_id"), (std::vector<int64_t>{2, 7}));
  EXPECT_EQ(fields.integers("bos_token_id"), (std::vector<int64_t>{1}));

  // transformers writes null for unset options: null reads as missing.
  EXPECT_FALSE(fields.has("sliding_window"));
  EXPECT_TRUE(fields.at("sliding_window").is_null());
  EXPECT_EQ(fields.integer("sliding_window", 4096), 4096);
  EXPECT_EQ(fields.positive("num_key_value_heads", 8), 8);
  EXPECT_FALSE(fields.boolean("mlp_bias", false));
  EXPECT_EQ(fields.string("model_type", "llama"), "llama");
  EXPECT_TRUE(fields.integers("pad_token_id").empty());
}

TEST(HfJson, ErrorsNameTheFileAndTheKeyPath) {
  const hf::JsonFields fields(kConfig, "some/config.json");
  EXPECT_EQ(message_of<Error>([&] { fields.integer("vocab_size"); }),
            "some/config.json: vocab_size: missing (required)");
  EXPECT_EQ(message_of<Error>([&] { fields.integer("sliding_window"); }),
            "some/config.json: sliding_window: missing (required)");
  EXPECT_EQ(message_of<Error>([&] { fields.integer("rms_norm_eps"); }),
            "some/config.json: rms_norm_eps: expected an integer, got 1e-05");
  EXPECT_EQ(message_of<Error>([&] { fields.number("hidden_act", 1.0); }),
            "some/config.json: hidden_act: expected a number, got \"silu\"");
  EXPECT_EQ(message_of<Error>([&] { fields.boolean("hidden_size", false); }),
            "some/config.json: hidden_size: expected true or false, got 64");
  EXPECT_EQ(message_of<Error>([&] { fields.string("eos_token_id", ""); }),
            "some/config.json: eos_token_id: expected a string, got [2,7]");
  EXPECT_EQ(message_of<Error>([&] { fields.integers("hidden_act"); }),
            "some/config.json: hidden_act: expected an integer or a list of integers, got \"silu\"");
  EXPECT_EQ(message_of<Error>([&] { fields.at("num_hidden_layers"); }),
            "some/config.json: num_hidden_layers: missing (required)");
  EXPECT_EQ(message_of<Error>([&] { fields.object("hidden_act"); }),
            "some/config.json: hidden_act: expected an object, got \"silu\"");

  const json negative = {{"num_attention_heads", 0}, {"eos_token_id", {1, "two"}}};
  const hf::JsonFields bad(negative, "config.json");
  EXPECT_EQ(message_of<Error>([&] { bad.positive("num_attention_heads"); }),
            "config.json: num_attention_heads: must be positive, got 0");
  EXPECT_EQ(message_of<Error>([&] { bad.integers("eos_token_id"); }),
            "config.json: eos_token_id: expected integers, got \"two\"");
  EXPECT_EQ(message_of<Error>([&] { bad.fail("head_dim", "must be even for RoPE, got 7"); }),
            "config.json: head_dim: must be even for RoPE, got 7");
}

TEST(HfJson, NestedObjectsPrefixTheirKeys) {
  const hf::JsonFields fields(kConfig, "config.json");
  const hf::JsonFields rope = fields.object("rope_scaling");
  EXPECT_EQ(rope.string("rope_type", "default"), "linear");
  EXPECT_EQ(rope.source(), "config.json");
  EXPECT_EQ(message_of<Error>([&] { rope.number("factor", 1.0); }),
            "config.json: rope_scaling.factor: expected a number, got \"x\"");

  const json deeper = {{"a", {{"b", {{"c", true}}}}}};
  const hf::JsonFields top(deeper, "f.json");
  EXPECT_EQ(message_of<Error>([&] { top.object("a").object("b").integer("c"); }),
            "f.json: a.b.c: expected an integer, got true");
}

TEST(HfJson, OnlyAnObjectIsAFile) {
  EXPECT_EQ(message_of<Error>([] { hf::JsonFields(json::array({1, 2}), "config.json"); }),
            "config.json: expected a JSON object");
  EXPECT_EQ(message_of<Error>([] { hf::JsonFields(json(nullptr), "config.json"); }),
            "config.json: expected a JSON object");
}

TEST(HfJson, OrderedJsonKeepsTheKeysInFileOrder) {
  const auto patterns = nlohmann::ordered_json::parse(R"({"rank_pattern": {"z": 4, "a": 2, "m": 8}})");
  const hf::OrderedJsonFields fields(patterns, "adapter_config.json");
  const hf::OrderedJsonFields ranks = fields.object("rank_pattern");
  EXPECT_EQ(ranks.keys(), (std::vector<std::string>{"z", "a", "m"}));
  EXPECT_EQ(ranks.positive("a"), 2);
  EXPECT_EQ(message_of<Error>([&] { ranks.boolean("m", false); }),
            "adapter_config.json: rank_pattern.m: expected true or false, got 8");
}

}  // namespace
}  // namespace modelswarm
