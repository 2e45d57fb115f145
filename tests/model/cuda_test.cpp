// The engine on CUDA, against the same random model on the CPU: log-likelihoods (shared prompts,
// several particles in one pass) and greedy generation. Skipped without a GPU;
// scripts/gpu_check.sh runs the suite on a GPU machine.
#include <ATen/ATen.h>

#include "model/random_model_fixture.h"
#include "modelswarm/model/generate.h"
#include "modelswarm/model/scoring.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

using model::Transformer;

std::vector<int64_t> ids(int64_t n, int64_t seed) {
  at::manual_seed(seed);
  const at::Tensor t = at::randint(1, test::kRandomVocab, {n}, at::kLong);
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
}

// Three questions of four choices (1-4 tokens) after prompts of 3, 7 and 12 tokens.
std::vector<model::ScoringRequest> questions() {
  std::vector<model::ScoringRequest> reqs;
  int64_t seed = 100;
  for (int64_t prompt : {3, 7, 12}) {
    const auto context = ids(prompt, seed++);
    for (int64_t choice = 1; choice <= 4; ++choice) reqs.push_back({context, ids(choice, seed++)});
  }
  return reqs;
}

class Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_F(Cuda, ScoringAndGreedyGenerationMatchTheCpu) {
  const Transformer cpu = test::random_llama();
  const c10::Device cuda(c10::kCUDA, 0);
  const Transformer gpu(cpu.config(), test::weights_by_name(cpu), cuda, at::kFloat);
  const Transformer gpu_bf16(cpu.config(), test::weights_by_name(cpu), cuda, at::kBFloat16);
  const auto layout = test::full_layout(cpu, 2);
  at::manual_seed(6);
  const at::Tensor particles = 0.3 * at::randn({3, layout.dim()});  // (P,D)
  const auto reqs = questions();

  const at::Tensor expected = model::score_loglikelihood(cpu, &layout, particles, reqs, 64);  // (3,12)
  EXPECT_LT(test::max_abs_diff(model::score_loglikelihood(gpu, &layout, particles, reqs, 64), expected), 1e-3);
  EXPECT_LT(test::max_abs_diff(model::score_loglikelihood(gpu, &layout, particles, reqs, 64, nullptr, false), expected),
            1e-3);
  const at::Tensor bf16 = model::score_loglikelihood(gpu_bf16, &layout, particles, reqs, 64);
  EXPECT_LT(((bf16 - expected).abs() / expected.abs().clamp_min(1.0)).max().item<double>(), 0.05);

  const std::vector<std::vector<int64_t>> prompts = {ids(4, 1), ids(9, 2), ids(4, 1), ids(9, 2)};
  model::LoraBatch lora_cpu{&layout, particles, {}, {}}, lora_gpu{&layout, particles.to(cuda), {}, {}};
  model::assign_rows(lora_cpu, {0, 0, 2, 2}, c10::Device(c10::kCPU));
  model::assign_rows(lora_gpu, {0, 0, 2, 2}, cuda);
  model::SamplingOptions greedy;
  greedy.max_new_tokens = 6;
  EXPECT_EQ(model::generate_ids(gpu, prompts, &lora_gpu, greedy), model::generate_ids(cpu, prompts, &lora_cpu, greedy));
}

}  // namespace
}  // namespace modelswarm
