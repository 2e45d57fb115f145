// Packed log-likelihood scoring and batched generation (scoring.h, generate.h) on a random
// in-memory Llama, checked against plain full-sequence forwards of one row at a time.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "model/random_model_fixture.h"
#include "modelswarm/common/error.h"
#include "modelswarm/model/generate.h"
#include "modelswarm/model/scoring.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

using model::Transformer;
constexpr int64_t kVocab = test::kRandomVocab;

std::vector<int64_t> random_ids(int64_t n) {
  const at::Tensor t = at::randint(1, kVocab, {n}, at::kLong);
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
}

// log p(continuation | context) from one unpadded full-sequence forward of a single row.
double hand_loglikelihood(const Transformer& m, const model::ScoringRequest& req, const model::LoraBatch* lora) {
  std::vector<int64_t> seq(req.context);
  seq.insert(seq.end(), req.continuation.begin(), req.continuation.end());
  const int64_t n = static_cast<int64_t>(seq.size());
  const at::Tensor log_probs =
      at::log_softmax(m.forward(at::tensor(seq).unsqueeze(0), at::ones({1, n}, at::kBool), lora)[0], -1);  // (n,V)
  double sum = 0;
  for (size_t t = req.context.size(); t < seq.size(); ++t) sum += log_probs[t - 1][seq[t]].item<double>();
  return sum;
}

std::vector<model::ScoringRequest> requests() {
  at::manual_seed(21);
  return {{random_ids(3), random_ids(2)}, {random_ids(1), random_ids(5)}, {random_ids(7), random_ids(1)},
          {random_ids(2), {}}, {random_ids(4), random_ids(3)}};
}

TEST(Scoring, EqualsHandComputationFromFullLogitsForEveryParticle) {
  const Transformer m = test::random_llama();
  const auto layout = test::full_layout(m, 2);
  at::manual_seed(4);
  const at::Tensor particles = 0.3 * at::randn({3, layout.dim()});  // (P,D)
  const auto reqs = requests();
  int64_t tokens = 0;
  // 12 tokens per pass: several passes, and the 7+1 row nearly alone.
  const at::Tensor scores = model::score_loglikelihood(m, &layout, particles, reqs, 12, &tokens);
  ASSERT_EQ(scores.sizes(), at::IntArrayRef({3, 5}));
  EXPECT_EQ(scores.scalar_type(), at::kDouble);
  EXPECT_GT(tokens, 0);
  for (int64_t p = 0; p < 3; ++p) {
    model::LoraBatch one{&layout, particles.narrow(0, p, 1), at::Tensor()};
    for (size_t r = 0; r < reqs.size(); ++r)
      EXPECT_NEAR(scores[p][r].item<double>(), hand_loglikelihood(m, reqs[r], &one), 1e-4) << p << "," << r;
  }
  EXPECT_EQ(scores[0][3].item<double>(), 0.0);  // empty continuation
  // Packing does not change results.
  const at::Tensor one_pass = model::score_loglikelihood(m, &layout, particles, reqs, 1 << 20);
  EXPECT_LT(test::max_abs_diff(scores, one_pass), 1e-5);
  // Different particles score differently.
  EXPECT_GT((scores[0] - scores[1]).abs().max().item<double>(), 1e-3);
}

TEST(Scoring, BaseModelWithoutParticles) {
  const Transformer m = test::random_llama();
  const auto reqs = requests();
  const at::Tensor scores = model::score_loglikelihood(m, nullptr, at::Tensor(), reqs, 16);
  ASSERT_EQ(scores.sizes(), at::IntArrayRef({1, 5}));
  for (size_t r = 0; r < reqs.size(); ++r)
    EXPECT_NEAR(scores[0][r].item<double>(), hand_loglikelihood(m, reqs[r], nullptr), 1e-4) << r;
}

// Questions whose choices share a context: choices of 1 to 4 tokens, contexts of 2 to 9 tokens,
// one lone request, and one empty continuation inside a group.
std::vector<model::ScoringRequest> multiple_choice_requests() {
  at::manual_seed(22);
  std::vector<model::ScoringRequest> reqs;
  for (int64_t context_length : {5, 2, 9}) {
    const auto context = random_ids(context_length);
    for (int64_t choice_length : {1, 3, 4, 2}) reqs.push_back({context, random_ids(choice_length)});
  }
  reqs.push_back({random_ids(4), random_ids(3)});
  reqs.push_back({reqs[0].context, {}});
  return reqs;
}

TEST(Scoring, SharedContextsEqualScoringEveryChoiceFromScratch) {
  const Transformer m = test::random_llama();
  const auto layout = test::full_layout(m, 2);
  at::manual_seed(5);
  const at::Tensor particles = 0.3 * at::randn({3, layout.dim()});  // (P,D)
  const auto reqs = multiple_choice_requests();
  int64_t shared_tokens = 0, unshared_tokens = 0;
  // 24 tokens per pass: the 9-token context's units run one by one, the short ones together.
  const at::Tensor shared = model::score_loglikelihood(m, &layout, particles, reqs, 24, &shared_tokens, true);
  const at::Tensor unshared = model::score_loglikelihood(m, &layout, particles, reqs, 24, &unshared_tokens, false);
  ASSERT_EQ(shared.sizes(), at::IntArrayRef({3, 14}));
  EXPECT_LT(test::max_abs_diff(shared, unshared), 1e-4);
  for (int64_t p = 0; p < 3; ++p) {
    model::LoraBatch one{&layout, particles.narrow(0, p, 1), at::Tensor()};
    for (size_t r = 0; r < reqs.size(); ++r)
      EXPECT_NEAR(shared[p][r].item<double>(), hand_loglikelihood(m, reqs[r], &one), 1e-4) << p << "," << r;
  }
  EXPECT_EQ(shared[1][13].item<double>(), 0.0);  // empty continuation
  EXPECT_LT(shared_tokens, unshared_tokens);      // each context ran once per particle, not once per choice
  // One pass for everything, and the base model, give the same scores too.
  EXPECT_LT(test::max_abs_diff(model::score_loglikelihood(m, &layout, particles, reqs, 1 << 20), unshared), 1e-4);
  const at::Tensor base = model::score_loglikelihood(m, nullptr, at::Tensor(), reqs, 16);
  for (size_t r = 0; r < reqs.size(); ++r)
    EXPECT_NEAR(base[0][r].item<double>(), hand_loglikelihood(m, reqs[r], nullptr), 1e-4) << r;
}

TEST(Scoring, OverAThousandScoredPositionsInOnePassEqualSmallPasses) {
  // One pass scores 3 particles x 4 choices x 99 positions: its log-probabilities come in chunks.
  const Transformer m = test::random_llama();
  const auto layout = test::full_layout(m, 2);
  at::manual_seed(7);
  const at::Tensor particles = 0.3 * at::randn({3, layout.dim()});  // (P,D)
  at::manual_seed(23);
  const auto context = random_ids(5);
  std::vector<model::ScoringRequest> reqs;
  for (int c = 0; c < 4; ++c) reqs.push_back({context, random_ids(100)});
  const at::Tensor one_pass = model::score_loglikelihood(m, &layout, particles, reqs, 1 << 20);
  const at::Tensor small_passes = model::score_loglikelihood(m, &layout, particles, reqs, 128);  // 396 positions each
  EXPECT_LT(test::max_abs_diff(one_pass, small_passes), 1e-3);
  EXPECT_LT(one_pass.max().item<double>(), -100.0);  // 100 tokens of a 50-token vocabulary, all scored
}

TEST(Scoring, RejectsEmptyContextAndOutOfVocabularyIds) {
  const Transformer m = test::random_llama();
  EXPECT_THROW(model::score_loglikelihood(m, nullptr, at::Tensor(), {{{}, {1, 2}}}, 64), Error);
  try {
    model::score_loglikelihood(m, nullptr, at::Tensor(), {{{1}, {2}}, {{1}, {kVocab}}}, 64);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scoring request 1: token id 50 outside the vocabulary"), std::string::npos)
        << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Generation

TEST(Generation, GreedyRowsAreArgmaxOfTheirOwnFullForward) {
  const Transformer m = test::random_llama();
  const auto layout = test::full_layout(m, 2);
  at::manual_seed(8);
  const at::Tensor particles = 0.3 * at::randn({2, layout.dim()});
  const std::vector<std::vector<int64_t>> prompts = {random_ids(2), random_ids(6), random_ids(4)};
  model::LoraBatch lora{&layout, particles, at::tensor({1L, 0L, 1L})};
  model::SamplingOptions options;
  options.max_new_tokens = 6;
  const auto out = model::generate_ids(m, prompts, &lora, options);
  ASSERT_EQ(out.size(), 3u);
  for (size_t b = 0; b < prompts.size(); ++b) {
    ASSERT_EQ(out[b].size(), 6u) << b;
    std::vector<int64_t> seq(prompts[b]);
    seq.insert(seq.end(), out[b].begin(), out[b].end());
    model::LoraBatch one{&layout, particles.narrow(0, lora.row_particle[b].item<int64_t>(), 1), at::Tensor()};
    const int64_t n = static_cast<int64_t>(seq.size());
    const at::Tensor logits = m.forward(at::tensor(seq).unsqueeze(0), at::ones({1, n}, at::kBool), &one)[0];
    for (size_t i = 0; i < out[b].size(); ++i)
      EXPECT_EQ(logits[prompts[b].size() + i - 1].argmax().item<int64_t>(), out[b][i]) << "row " << b << " step " << i;
  }
}

TEST(Generation, StopsAtEosAndAtTheStopHook) {
  const Transformer m = test::random_llama();
  at::manual_seed(9);
  const std::vector<std::vector<int64_t>> prompts = {random_ids(3), random_ids(5)};
  model::SamplingOptions options;
  options.max_new_tokens = 5;
  const auto free_run = model::generate_ids(m, prompts, nullptr, options);
  options.eos_ids = {free_run[0][2]};
  const auto with_eos = model::generate_ids(m, prompts, nullptr, options);
  const auto eos_at = std::find(free_run[0].begin(), free_run[0].end(), free_run[0][2]) - free_run[0].begin();
  EXPECT_EQ(with_eos[0], std::vector<int64_t>(free_run[0].begin(), free_run[0].begin() + eos_at));
  options.eos_ids.clear();
  const auto hooked = model::generate_ids(m, prompts, nullptr, options,
                                          [](int64_t row, const std::vector<int64_t>& g) { return row == 1 && g.size() == 2; });
  EXPECT_EQ(hooked[0], free_run[0]);
  EXPECT_EQ(hooked[1], std::vector<int64_t>(free_run[1].begin(), free_run[1].begin() + 2));
}

TEST(Generation, SamplingIsSeededAndTinyTopPIsGreedy) {
  const Transformer m = test::random_llama();
  at::manual_seed(10);
  const std::vector<std::vector<int64_t>> prompts = {random_ids(3), random_ids(3), random_ids(2)};
  model::SamplingOptions options;
  options.max_new_tokens = 8;
  const auto greedy = model::generate_ids(m, prompts, nullptr, options);
  options.temperature = 1.5;
  options.seed = 42;
  const auto a = model::generate_ids(m, prompts, nullptr, options);
  const auto b = model::generate_ids(m, prompts, nullptr, options);
  options.seed = 43;
  const auto c = model::generate_ids(m, prompts, nullptr, options);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, greedy);
  options.top_p = 1e-6;
  EXPECT_EQ(model::generate_ids(m, prompts, nullptr, options), greedy);
}

TEST(Generation, TopPKeepsOnlyTheNucleus) {
  // Probabilities 0.5, 0.3, 0.2: top_p 0.7 allows only the first two tokens.
  const at::Tensor logits = at::log(at::tensor({0.2, 0.5, 0.3}, at::kFloat)).unsqueeze(0).repeat({2000, 1});
  at::Generator generator = at::detail::createCPUGenerator(1);
  const at::Tensor picks = model::choose_tokens(logits, 1.0, 0.7, generator);
  EXPECT_EQ((picks == 0).sum().item<int64_t>(), 0);
  const double share_of_1 = (picks == 1).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(share_of_1, 0.5 / 0.8, 0.05);
}

}  // namespace
}  // namespace modelswarm
