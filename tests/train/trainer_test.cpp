// LoRA and full-weight training on the random in-memory Llama: the loss falls, the trained
// adapter makes the model produce its training completions, and a seed fixes every number.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "model/random_model_fixture.h"
#include "modelswarm/common/error.h"
#include "modelswarm/train/trainer.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

// Eight prompts whose completion token is a function of their second token.
std::vector<train::TokenizedExample> toy_skill() {
  std::vector<train::TokenizedExample> data;
  for (int64_t i = 0; i < 8; ++i) data.push_back({{1, 10 + i, 3, 30 + (i * 7) % 8}, 3});
  return data;
}

// Greedy next token after each example's prompt, under `lora` (or the base).
std::vector<int64_t> greedy_answers(const model::Transformer& m, const std::vector<train::TokenizedExample>& data,
                                    const model::LoraBatch* lora) {
  std::vector<int64_t> answers;
  at::NoGradGuard no_grad;
  for (const auto& e : data) {
    const at::Tensor prompt = at::tensor(std::vector<int64_t>(e.tokens.begin(), e.tokens.begin() + e.prompt_tokens));
    const at::Tensor logits = m.forward(prompt.unsqueeze(0), at::ones({1, e.prompt_tokens}, at::kBool), lora);
    answers.push_back(logits[0][e.prompt_tokens - 1].argmax().item<int64_t>());
  }
  return answers;
}

train::TrainOptions quick(uint64_t seed) {
  train::TrainOptions o;
  o.steps = 60;
  o.batch_size = 4;
  o.learning_rate = 2e-2;
  o.seed = seed;
  o.log_every = 0;
  return o;
}

TEST(Trainer, LoraLowersTheLossAndTheModelAnswersItsTrainingPrompts) {
  const model::Transformer base = test::random_llama();
  const auto data = toy_skill();
  train::LoraOptions lora_options;
  lora_options.rank = 4;
  lora_options.alpha = 8;
  lora_options.target_modules = {"all-linear"};
  const auto result = train::train_lora(base, data, lora_options, quick(3));
  ASSERT_EQ(result.losses.size(), 60u);
  EXPECT_LT(result.losses.back(), 0.2 * result.losses.front());
  ASSERT_EQ(result.modules.size(), 14u);  // 7 projections × 2 layers
  EXPECT_DOUBLE_EQ(result.modules[0].scaling, 2.0);

  // The adapter as a one-particle pool, the way every reader of PEFT adapters sees it.
  lora::Adapter adapter;
  adapter.modules = result.modules;
  const auto pool = lora::ExpertPool::from_adapters({adapter}, {"trained"}, base.base_shapes());
  const model::LoraBatch lora{&pool.layout, pool.weights, at::Tensor()};
  std::vector<int64_t> targets;
  for (const auto& e : data) targets.push_back(e.tokens.back());
  EXPECT_NE(greedy_answers(base, data, nullptr), targets);
  EXPECT_EQ(greedy_answers(base, data, &lora), targets);
  EXPECT_LT(train::mean_loss(base, data, &lora), train::mean_loss(base, data, nullptr));
}

TEST(Trainer, SameSeedSameAdapterAndPeftInitialisation) {
  const model::Transformer base = test::random_llama();
  train::LoraOptions lora_options;  // q_proj, v_proj
  const auto a = train::train_lora(base, toy_skill(), lora_options, quick(5));
  const auto b = train::train_lora(base, toy_skill(), lora_options, quick(5));
  ASSERT_EQ(a.modules.size(), 4u);
  for (size_t m = 0; m < a.modules.size(); ++m) {
    EXPECT_TRUE(at::equal(a.modules[m].A, b.modules[m].A)) << a.modules[m].name;
    EXPECT_TRUE(at::equal(a.modules[m].B, b.modules[m].B)) << a.modules[m].name;
  }
  EXPECT_EQ(a.losses, b.losses);

  // One step at a tiny learning rate leaves A where PEFT starts it: kaiming-uniform within 1/√in.
  train::TrainOptions one = quick(5);
  one.steps = 1;
  one.learning_rate = 1e-12;
  const auto start = train::train_lora(base, toy_skill(), lora_options, one);
  const double bound = 1.0 / std::sqrt(static_cast<double>(test::kRandomDim));
  EXPECT_LE(start.modules[0].A.abs().max().item<double>(), bound);
  EXPECT_GT(start.modules[0].A.abs().max().item<double>(), 0.8 * bound);
  EXPECT_LT(start.modules[0].B.abs().max().item<double>(), 1e-9);
  // Another seed, another A.
  const auto other = train::train_lora(base, toy_skill(), lora_options, [&] { auto o = one; o.seed = 6; return o; }());
  EXPECT_FALSE(at::equal(start.modules[0].A, other.modules[0].A));
}

TEST(Trainer, FullTrainingUpdatesEveryWeightInPlace) {
  auto weights = test::weights_by_name(test::random_llama());
  std::map<std::string, at::Tensor> copy;
  for (auto& [name, t] : weights) copy[name] = t.clone();
  weights = copy;
  std::map<std::string, at::Tensor> before;
  for (auto& [name, t] : weights) before[name] = t.clone();
  const auto losses = train::train_full(test::random_llama().config(), weights, toy_skill(), quick(1));
  EXPECT_LT(losses.back(), 0.2 * losses.front());
  for (const auto& [name, t] : weights) {
    EXPECT_FALSE(t.requires_grad()) << name;
    EXPECT_FALSE(at::equal(t, before[name])) << name << " was not trained";
  }
}

TEST(Trainer, RefusesUnknownTargetsAndEmptyData) {
  const model::Transformer base = test::random_llama();
  train::LoraOptions bad;
  bad.target_modules = {"qkv_proj"};
  EXPECT_THROW(train::train_lora(base, toy_skill(), bad, quick(1)), ConfigError);
  EXPECT_THROW(train::train_lora(base, {}, train::LoraOptions(), quick(1)), ConfigError);
}

}  // namespace
}  // namespace modelswarm
