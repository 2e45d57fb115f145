// The decoder against Hugging Face transformers + PEFT (tests/python/model_oracle.py), and the
// invariants many-particle batching relies on, checked on random in-memory models.
#include "modelswarm/model/transformer.h"

#include <ATen/ATen.h>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/config.h"
#include "model/random_model_fixture.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

namespace fs = std::filesystem;
using model::Transformer;

const fs::path& oracle_dir() {
  static const fs::path dir = test::cached_oracle("model", "model_oracle.py", {});
  return dir;
}

// Max |a - b| over the real (valid) token positions of logits (B,T,V).
double valid_diff(const at::Tensor& a, const at::Tensor& b, const at::Tensor& valid) {
  const at::Tensor keep = valid.to(at::kBool);
  return test::max_abs_diff(a.index({keep}), b.index({keep}));
}

// ---------------------------------------------------------------------------------------------
// Against transformers / PEFT

class HuggingFaceModel : public ::testing::TestWithParam<std::string> {};

TEST_P(HuggingFaceModel, LogitsMatchTransformersWithAndWithoutPeftAdapter) {
  ASSERT_FALSE(oracle_dir().empty());
  const fs::path dir = oracle_dir() / GetParam();
  const auto reference = safetensors::File::open(dir / "reference.safetensors");
  const at::Tensor ids = reference.tensor("ids"), valid = reference.tensor("valid");  // (B,T)
  const Transformer model = Transformer::load(dir / "model", c10::Device(c10::kCPU), at::kFloat);

  const at::Tensor base = model.forward(ids, valid);  // (B,T,V)
  EXPECT_LT(valid_diff(base, reference.tensor("logits_base"), valid), 1e-4);

  // One adapter (P = 1) for every row.
  auto pool = lora::ExpertPool::from_adapters({lora::read_adapter(dir / "adapter")}, {"adapter"}, model.base_shapes());
  model.check_layout(pool.layout);
  const int64_t B = ids.size(0);
  model::LoraBatch single{&pool.layout, pool.weights, at::zeros({B}, at::kLong)};
  const at::Tensor adapted = model.forward(ids, valid, &single);
  EXPECT_LT(valid_diff(adapted, reference.tensor("logits_lora"), valid), 1e-4);

  // Two particles in one batch: the adapter for rows 0 and 2, an all-zero particle for row 1.
  const at::Tensor particles = at::cat({pool.weights, at::zeros_like(pool.weights)});  // (2,D)
  model::LoraBatch mixed{&pool.layout, particles, at::tensor({0L, 1L, 0L})};
  const at::Tensor both = model.forward(ids, valid, &mixed);
  for (int64_t b = 0; b < B; ++b) {
    const at::Tensor want = reference.tensor(b == 1 ? "logits_base" : "logits_lora")[b];
    EXPECT_LT(valid_diff(both[b], want, valid[b]), 1e-4) << "row " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, HuggingFaceModel,
                         ::testing::Values("llama", "mistral", "qwen2", "qwen3", "gemma", "llama_tied"));

TEST(HuggingFaceModelErrors, MissingOrMisshapedTensorIsNamed) {
  ASSERT_FALSE(oracle_dir().empty());
  const fs::path dir = oracle_dir() / "llama" / "model";
  const auto config = model::read_model_config(dir);
  auto tensors = safetensors::load_checkpoint(dir);
  tensors.erase("model.layers.1.mlp.up_proj.weight");
  try {
    Transformer(config, tensors, c10::Device(c10::kCPU), at::kFloat, "tiny");
    ADD_FAILURE() << "no error for a missing tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.mlp.up_proj.weight is missing (expected shape [48, 32])"),
              std::string::npos) << e.what();
  }
  tensors["model.layers.1.mlp.up_proj.weight"] = at::zeros({32, 48});
  try {
    Transformer(config, tensors, c10::Device(c10::kCPU), at::kFloat, "tiny");
    ADD_FAILURE() << "no error for a mis-shaped tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has shape [32, 48], expected [48, 32]"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// config.json

nlohmann::json llama_config() {
  return {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 64}, {"hidden_size", 32},
          {"intermediate_size", 48}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
          {"num_key_value_heads", 2}, {"rms_norm_eps", 1e-5}, {"eos_token_id", {2, 7}},
          {"rope_scaling", {{"rope_type", "linear"}, {"factor", 4.0}}}, {"rope_theta", 500000.0}};
}

std::string config_error(const nlohmann::json& j) {
  try {
    model::parse_model_config(j, "some/config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ModelConfig, ReadsFieldsAndFamilyDefaults) {
  const auto c = model::parse_model_config(llama_config(), "config.json");
  EXPECT_EQ(c.family, model::Family::kLlama);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 4.0);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2, 7}));
  EXPECT_FALSE(c.tie_word_embeddings);

  auto gemma = llama_config();
  gemma["architectures"] = {"GemmaForCausalLM"};
  gemma.erase("rope_scaling");
  const auto g = model::parse_model_config(gemma, "config.json");
  EXPECT_EQ(g.head_dim, 256);
  EXPECT_TRUE(g.tie_word_embeddings && g.norm_adds_one && g.scale_embeddings);
  EXPECT_EQ(g.hidden_act, "gelu_pytorch_tanh");

  auto qwen = llama_config();
  qwen["architectures"] = {"Qwen2ForCausalLM"};
  const auto q = model::parse_model_config(qwen, "config.json");
  EXPECT_TRUE(q.qkv_bias);
  EXPECT_FALSE(q.o_bias);
}

TEST(ModelConfig, ErrorsNameTheFileAndKey) {
  auto j = llama_config();
  j.erase("hidden_size");
  EXPECT_NE(config_error(j).find("some/config.json: hidden_size: missing"), std::string::npos)
      << config_error(j);
  j = llama_config();
  j["num_key_value_heads"] = 3;
  EXPECT_NE(config_error(j).find("some/config.json: num_key_value_heads: 3 does not divide"), std::string::npos)
      << config_error(j);
  j = llama_config();
  j["rms_norm_eps"] = "small";
  EXPECT_NE(config_error(j).find("some/config.json: rms_norm_eps: expected a number"), std::string::npos)
      << config_error(j);
  j = llama_config();
  j["architectures"] = {"GPT2LMHeadModel"};
  EXPECT_NE(config_error(j).find("unsupported architecture \"GPT2LMHeadModel\""), std::string::npos);
  j = llama_config();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 2.0}};
  EXPECT_NE(config_error(j).find("some/config.json: rope_scaling.rope_type: unsupported RoPE scaling \"yarn\""),
            std::string::npos)
      << config_error(j);
}

// ---------------------------------------------------------------------------------------------
// Invariants on a random in-memory Llama

using test::full_layout;
using test::random_llama;
using test::weights_by_name;
constexpr int64_t kVocab = test::kRandomVocab, kDim = test::kRandomDim, kFfn = test::kRandomFfn;

TEST(TransformerInvariants, ParticleRowsEqualMergedWeights) {
  const Transformer model = random_llama();
  const auto layout = full_layout(model, 3);
  at::manual_seed(5);
  const at::Tensor particles = 0.3 * at::randn({3, layout.dim()});  // (P,D)
  const at::Tensor ids = at::randint(kVocab, {5, 6}, at::kLong);
  const at::Tensor valid = at::ones({5, 6}, at::kBool);
  const at::Tensor row_particle = at::tensor({2L, 0L, 1L, 2L, 0L});
  model::LoraBatch lora{&layout, particles, row_particle};
  const at::Tensor batched = model.forward(ids, valid, &lora);  // (B,T,V)

  for (int64_t p = 0; p < 3; ++p) {
    const Transformer merged_model(model.config(), test::merged_weights(weights_by_name(model), layout, particles[p]),
                                   c10::Device(c10::kCPU), at::kFloat);
    const at::Tensor want = merged_model.forward(ids, valid);
    for (int64_t b = 0; b < 5; ++b)
      if (row_particle[b].item<int64_t>() == p)
        EXPECT_LT(test::max_abs_diff(batched[b], want[b]), 1e-5) << "row " << b << " particle " << p;
  }
  // The particles really differ: otherwise the test above proves nothing.
  EXPECT_GT(test::max_abs_diff(batched[1], batched[0]), 1e-2);
}

TEST(TransformerInvariants, PaddingNeverChangesARow) {
  const Transformer model = random_llama();
  const std::vector<int64_t> row = {3, 14, 15, 9, 26};
  const at::Tensor alone = model.forward(at::tensor(row).unsqueeze(0), at::ones({1, 5}, at::kBool))[0];  // (5,V)

  at::Tensor ids = at::zeros({3, 8}, at::kLong);
  at::Tensor valid = at::zeros({3, 8}, at::kBool);
  ids[0].narrow(0, 0, 5).copy_(at::tensor(row));  // right padding
  valid[0].narrow(0, 0, 5).fill_(true);
  ids[1].narrow(0, 3, 5).copy_(at::tensor(row));  // left padding
  valid[1].narrow(0, 3, 5).fill_(true);
  ids[2] = at::randint(kVocab, {8}, at::kLong);   // a full neighbour
  valid[2].fill_(true);
  const at::Tensor batch = model.forward(ids, valid);
  EXPECT_LT(test::max_abs_diff(batch[0].narrow(0, 0, 5), alone), 1e-5);
  EXPECT_LT(test::max_abs_diff(batch[1].narrow(0, 3, 5), alone), 1e-5);
  EXPECT_FALSE(at::isnan(batch).any().item<bool>());
}

TEST(TransformerInvariants, KvCacheLogitsEqualFullSequenceLogits) {
  const Transformer model = random_llama();
  const auto layout = full_layout(model, 2);
  at::manual_seed(3);
  model::LoraBatch lora{&layout, 0.3 * at::randn({2, layout.dim()}), at::tensor({1L, 0L})};
  // Row 1 is left-padded by two slots.
  at::Tensor ids = at::randint(1, kVocab, {2, 9}, at::kLong);
  at::Tensor valid = at::ones({2, 9}, at::kBool);
  valid[1].narrow(0, 0, 2).fill_(false);
  const at::Tensor full = model.forward(ids, valid, &lora);  // (2,9,V)

  const at::Tensor positions = model::positions_from_valid(valid);
  model::KVCache cache = model.new_cache(2, 9);
  const int64_t prefill = 4;
  std::vector<at::Tensor> pieces = {model.logits(model.hidden_states(
      ids.narrow(1, 0, prefill), positions.narrow(1, 0, prefill), valid.narrow(1, 0, prefill), &cache, &lora))};
  for (int64_t t = prefill; t < 9; ++t)
    pieces.push_back(model.logits(model.hidden_states(ids.narrow(1, t, 1), positions.narrow(1, t, 1),
                                                      valid.narrow(1, 0, t + 1), &cache, &lora)));
  const at::Tensor incremental = at::cat(pieces, 1);
  EXPECT_EQ(cache.length, 9);
  EXPECT_LT(test::max_abs_diff(incremental[0], full[0]), 1e-5);
  EXPECT_LT(test::max_abs_diff(incremental[1].narrow(0, 2, 7), full[1].narrow(0, 2, 7)), 1e-5);
}

TEST(TransformerInvariants, LayoutModulesMustExistWithTheirShapes) {
  const Transformer model = random_llama();
  EXPECT_THROW(model.check_layout(lora::PoolLayout({{"model.layers.9.self_attn.q_proj", 2, kDim, kDim}})), Error);
  EXPECT_THROW(model.check_layout(lora::PoolLayout({{"model.layers.0.self_attn.k_proj", 2, kDim, kDim}})), Error);
  const auto shape = model.base_shapes()("model.layers.1.mlp.down_proj");
  ASSERT_TRUE(shape.has_value());
  EXPECT_EQ(*shape, std::make_pair(kDim, kFfn));
}

}  // namespace
}  // namespace modelswarm
