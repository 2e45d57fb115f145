// Reward models (sequence classification) against transformers: tests/python/reward_oracle.py
// scores texts of different lengths in one padded batch with LlamaForSequenceClassification and
// Qwen2ForSequenceClassification; ours must give the same reward to every text, however packed.
#include "modelswarm/model/reward_model.h"

#include <ATen/ATen.h>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/formats/tokenizer.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

namespace fs = std::filesystem;

fs::path oracle_dir() { return test::cached_oracle("reward", "reward_oracle.py", {}); }

model::EngineOptions cpu_options(int64_t max_batch_tokens) { return {"cpu", "float32", max_batch_tokens}; }

template <typename F>
std::string error_of(F&& f) {
  return test::message_of<Error>(std::forward<F>(f));
}

class RewardModelOracle : public ::testing::TestWithParam<const char*> {};

TEST_P(RewardModelOracle, RewardsMatchTransformersWhateverThePacking) {
  const fs::path dir = oracle_dir();
  ASSERT_FALSE(dir.empty());
  const auto reference = safetensors::File::open(dir / GetParam() / "reference.safetensors");
  const at::Tensor ids = reference.tensor("ids"), lengths = reference.tensor("lengths");
  const at::Tensor expected = reference.tensor("scores");  // (R)
  std::vector<std::vector<int64_t>> texts;
  for (int64_t r = 0; r < ids.size(0); ++r) {
    const int64_t* row = ids[r].data_ptr<int64_t>();
    texts.emplace_back(row, row + lengths[r].item<int64_t>());
  }
  // 9 tokens per pass puts every text of the longest length alone; 1000 puts them all in one pass.
  for (int64_t max_batch_tokens : {9, 1000}) {
    SCOPED_TRACE(max_batch_tokens);
    auto reward = model::load_reward_model(dir / GetParam() / "model", cpu_options(max_batch_tokens));
    const at::Tensor scores = reward->score(texts);
    ASSERT_EQ(scores.sizes(), at::IntArrayRef({ids.size(0)}));
    EXPECT_EQ(scores.scalar_type(), at::kDouble);
    EXPECT_LT(test::max_abs_diff(scores, expected), 1e-4) << scores << "\n" << expected;
    EXPECT_GT(reward->tokens_processed(), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, RewardModelOracle, ::testing::Values("llama", "qwen2"));

TEST(RewardModel, TextsAreTokenisedByItsOwnTokenizerAndCheckedAgainstItsVocabulary) {
  const fs::path dir = oracle_dir();
  ASSERT_FALSE(dir.empty());
  auto reward = model::load_reward_model(dir / "llama" / "model", cpu_options(64));
  const auto ids = reward->tokenizer().encode("the cat sat", /*add_special_tokens=*/true);
  EXPECT_EQ(ids.front(), 1) << "BOS from the reward model's tokenizer.json";
  EXPECT_NE(error_of([&] { reward->score({ids, {5, 64}}); }).find("text 1: token id 64 outside the vocabulary [0, 64)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { reward->score({{}}); }).find("text 0 has no tokens"), std::string::npos);
}

TEST(RewardModel, CheckpointWithoutScoreHeadIsRefusedNamingTheDirectory) {
  const fs::path dir = oracle_dir();
  ASSERT_FALSE(dir.empty());
  const fs::path causal = dir / "causal";
  std::string m = error_of([&] { model::check_reward_model(causal); });
  EXPECT_NE(m.find(causal.string() + ": no score head (score.weight)"), std::string::npos) << m;
  EXPECT_NE(m.find("this one is a LlamaForCausalLM"), std::string::npos) << m;
  EXPECT_NE(error_of([&] { model::load_reward_model(causal, cpu_options(64)); }).find("no score head"),
            std::string::npos);
  EXPECT_EQ(model::check_reward_model(dir / "qwen2" / "model"), "Qwen2ForSequenceClassification");

  // The other way round: a reward model is no model to generate with.
  m = error_of([&] { model::load_evaluator(dir / "llama" / "model", nullptr, cpu_options(64)); });
  EXPECT_NE(m.find("a sequence-classification checkpoint (a reward model) cannot generate"), std::string::npos) << m;

  // Two labels: which one would be the reward?
  const fs::path two = test::temp_dir("two-labels");
  write_text_atomic(two / "config.json", read_file(dir / "llama" / "model" / "config.json"));
  safetensors::write(two / "model.safetensors", {{"score.weight", at::zeros({2, 32})}});
  m = error_of([&] { model::check_reward_model(two); });
  EXPECT_NE(m.find(two.string() + ": the score head has 2 labels"), std::string::npos) << m;
}

}  // namespace
}  // namespace modelswarm
