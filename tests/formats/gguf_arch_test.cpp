// `convert gguf` on each architecture it supports: tiny random llama, qwen2, qwen3 and gemma
// models written as GGUF the way llama.cpp's convert_hf_to_gguf.py writes them (llama's q/k rows
// permuted, Gemma's norms stored + 1, qwen2's q/k/v biases, qwen3's q/k norms and head size
// from attention.key_length, tied and untied output, grouped-query attention, Q8_0 and F16
// tensors) must convert into a directory whose logits are the ones transformers computes from the
// same GGUF (tests/python/gguf_arch_oracle.py; for gemma, which transformers' GGUF loader refuses,
// transformers' GemmaForCausalLM on the file's dequantised tensors). The real-model counterpart,
// SmolLM2 (llama), is tests/formats/gguf_convert_test.cpp.
#include <nlohmann/json.hpp>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/model/transformer.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// All four architectures come from one oracle run, shared by the four tests (and test processes).
fs::path oracle() { return test::cached_oracle("gguf-arch", "gguf_arch_oracle.py", {}); }

// Both sides compute in float32 from the same dequantised values; what is left is the order of
// float32 operations (attention, RMSNorm, matmul blocking) over 2 layers of width 64, about 1e-6
// on logits of magnitude ~1. A missed +1, permutation, bias or head size moves them by > 1e-2
// (the quantisation error alone, original model against GGUF, is ~2e-2: reference.json says).
constexpr double kTolerance = 1e-4;

void expect_converted_logits_match(const std::string& arch, const std::string& hf_class) {
  const fs::path reference_dir = oracle();
  ASSERT_FALSE(reference_dir.empty());
  const fs::path dir = reference_dir / arch;
  const json reference = json::parse(read_file(dir / "reference.json"));
  const at::Tensor expected = safetensors::File::open(dir / "logits.safetensors").tensor("logits");

  const fs::path model_dir = test::temp_dir("gguf-arch-" + arch) / "model";
  const auto r = test::run_cli({"-q", "convert", "gguf", (dir / "model.gguf").string(), model_dir.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;

  const json config = json::parse(read_file(model_dir / "config.json"));
  EXPECT_EQ(config["architectures"][0], hf_class);
  EXPECT_EQ(config["head_dim"], reference["head_dim"]);

  const auto model = model::Transformer::load(model_dir, at::kCPU, at::kFloat);
  const json& sequences = reference["input_ids"];
  ASSERT_EQ(static_cast<int64_t>(sequences.size()), expected.size(0));
  for (size_t i = 0; i < sequences.size(); ++i) {
    const std::vector<int64_t> ids = sequences[i].get<std::vector<int64_t>>();
    const int64_t n = static_cast<int64_t>(ids.size());
    const at::Tensor logits = model.forward(at::tensor(ids).unsqueeze(0), at::ones({1, n}, at::kBool), nullptr)[0];
    ASSERT_EQ(logits.sizes(), expected[i].sizes()) << arch << " sequence " << i;
    EXPECT_LT(test::max_abs_diff(logits, expected[i]), kTolerance)
        << arch << " sequence " << i << " (oracle: " << reference["source"] << ")";
  }

  // The converted tokenizer encodes as transformers' GGUF tokenizer does, where it loads one.
  if (reference.contains("text_ids")) {
    const auto tokenizer = tokenizer::Tokenizer::from_model_dir(model_dir);
    EXPECT_EQ(json(tokenizer.encode(reference["text"].get<std::string>(), /*add_special_tokens=*/false)),
              reference["text_ids"]);
  }
}

// Untied output.weight and grouped-query attention meet the q/k row permutation: k is permuted
// with the kv head count, q with the head count.
TEST(GgufArch, LlamaLogitsMatchTransformers) { expect_converted_logits_match("llama", "LlamaForCausalLM"); }

// q/k/v biases (attn_q.bias ...), not permuted, and the qwen2 pre-tokenizer.
TEST(GgufArch, Qwen2LogitsMatchTransformers) { expect_converted_logits_match("qwen2", "Qwen2ForCausalLM"); }

// q/k RMSNorms, tied embeddings, and head_dim 128 from attention.key_length where hidden / heads is 16.
TEST(GgufArch, Qwen3LogitsMatchTransformers) { expect_converted_logits_match("qwen3", "Qwen3ForCausalLM"); }

// Norms stored as 1 + w, tied embeddings, head_dim 32 from attention.key_length (hidden / heads is
// 16), GELU and the sqrt(hidden) embedding scale (the last two are the model's, not the file's).
TEST(GgufArch, GemmaLogitsMatchTheDequantisedGguf) { expect_converted_logits_match("gemma", "GemmaForCausalLM"); }

}  // namespace
}  // namespace modelswarm
