// model::load_evaluator on the tiny Llama from tests/python/model_oracle.py (with its tokenizer):
// scores against transformers' own logits, and generation with stop strings.
#include "modelswarm/model/evaluator.h"

#include <ATen/ATen.h>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/generate.h"
#include "modelswarm/model/transformer.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

namespace fs = std::filesystem;

fs::path llama_dir() {
  const fs::path dir = test::cached_oracle("model", "model_oracle.py", {});
  return dir.empty() ? dir : dir / "llama";
}

model::EngineOptions cpu_options(int64_t max_batch_tokens) {
  model::EngineOptions options;
  options.device = "cpu";
  options.dtype = "float32";
  options.max_batch_tokens = max_batch_tokens;
  return options;
}

// Sum of log p(ids[t] | ids[<t]) for t in [from, n) from transformers' logits (T,V) of one row.
double reference_loglikelihood(const at::Tensor& logits, const at::Tensor& ids, int64_t from, int64_t n) {
  const at::Tensor log_probs = at::log_softmax(logits.to(at::kDouble), -1);
  double sum = 0;
  for (int64_t t = from; t < n; ++t) sum += log_probs[t - 1][ids[t].item<int64_t>()].item<double>();
  return sum;
}

TEST(Evaluator, LoglikelihoodMatchesTransformersForEachParticle) {
  const fs::path dir = llama_dir();
  ASSERT_FALSE(dir.empty());
  const auto reference = safetensors::File::open(dir / "reference.safetensors");
  const at::Tensor ids = reference.tensor("ids");  // row 0 is unpadded, 7 tokens
  std::vector<int64_t> row(ids[0].data_ptr<int64_t>(), ids[0].data_ptr<int64_t>() + 7);
  // Requests 0, 3 and 4 share their context (scored through one KV cache); [from, to) of the row.
  const std::vector<model::ScoringRequest> requests = {{{row.begin(), row.begin() + 3}, {row.begin() + 3, row.end()}},
                                                       {{row.begin(), row.begin() + 1}, {row.begin() + 1, row.end()}},
                                                       {{row.begin(), row.begin() + 6}, {row.back()}},
                                                       {{row.begin(), row.begin() + 3}, {row.begin() + 3, row.begin() + 5}},
                                                       {{row.begin(), row.begin() + 3}, {row[3]}}};
  const std::vector<int64_t> from = {3, 1, 6, 3, 3}, to = {7, 7, 7, 5, 4};

  auto pool = lora::ExpertPool::from_adapters({lora::read_adapter(dir / "adapter")}, {"adapter"});
  auto evaluator = model::load_evaluator(dir / "model", &pool.layout, cpu_options(10));
  // Particle 0: the adapter; particle 1: zero (the base model).
  const at::Tensor particles = at::cat({pool.weights, at::zeros_like(pool.weights)});
  const at::Tensor scores = evaluator->loglikelihood(particles, requests);
  ASSERT_EQ(scores.sizes(), at::IntArrayRef({2, 5}));
  const at::Tensor lora_logits = reference.tensor("logits_lora")[0], base_logits = reference.tensor("logits_base")[0];
  for (size_t r = 0; r < requests.size(); ++r) {
    EXPECT_NEAR(scores[0][r].item<double>(), reference_loglikelihood(lora_logits, ids[0], from[r], to[r]), 1e-4) << r;
    EXPECT_NEAR(scores[1][r].item<double>(), reference_loglikelihood(base_logits, ids[0], from[r], to[r]), 1e-4) << r;
  }
  const at::Tensor base = evaluator->loglikelihood(at::Tensor(), requests);
  EXPECT_LT(test::max_abs_diff(base[0], scores[1]), 1e-5);
  EXPECT_GT(evaluator->tokens_processed(), 0);
  EXPECT_THROW(evaluator->loglikelihood(at::zeros({2, pool.layout.dim() + 1}), requests), Error);
}

TEST(Evaluator, GenerationCutsAtStopStringsAndMatchesGenerationOnIds) {
  const fs::path dir = llama_dir();
  ASSERT_FALSE(dir.empty());
  auto pool = lora::ExpertPool::from_adapters({lora::read_adapter(dir / "adapter")}, {"adapter"});
  auto evaluator = model::load_evaluator(dir / "model", &pool.layout, cpu_options(40));
  const auto& tokenizer = evaluator->tokenizer();
  const std::vector<model::GenerationRequest> requests = {{tokenizer.encode("the cat", true)},
                                                          {tokenizer.encode("once upon a time it", true)}};
  const at::Tensor particles = at::cat({pool.weights, at::zeros_like(pool.weights)});
  model::GenerationOptions options;
  options.max_new_tokens = 12;
  const auto texts = evaluator->generate(particles, requests, options);
  ASSERT_EQ(texts.size(), 2u);
  ASSERT_EQ(texts[0].size(), 2u);

  // The same rows through generate_ids one at a time, decoded as continuations of their prompts
  // (a leading space the decoder would strip from a text start is kept).
  const model::Transformer model = model::Transformer::load(dir / "model", c10::Device(c10::kCPU), at::kFloat);
  model::SamplingOptions sampling;
  sampling.max_new_tokens = 12;
  sampling.eos_ids = tokenizer.eos_ids();
  for (int64_t p = 0; p < 2; ++p)
    for (size_t r = 0; r < requests.size(); ++r) {
      model::LoraBatch one{&pool.layout, particles.narrow(0, p, 1), at::Tensor()};
      const auto ids = model::generate_ids(model, {requests[r].prompt}, &one, sampling);
      EXPECT_EQ(texts[p][r], tokenizer.decode_continuation(requests[r].prompt, ids[0])) << p << "," << r;
    }

  // A stop string taken from the middle of a free continuation cuts it there.
  const std::string free_text = texts[0][1];
  ASSERT_GE(free_text.size(), 4u) << free_text;
  options.stop = {free_text.substr(2, 2), "a string that never appears"};
  const auto stopped = evaluator->generate(particles, requests, options);
  EXPECT_EQ(stopped[0][1], free_text.substr(0, free_text.find(options.stop[0])));
}

}  // namespace
}  // namespace modelswarm
