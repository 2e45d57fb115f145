// bfloat16 against float32 on the CPU, on real trained models (stories260K with its five
// experts; SmolLM2-135M-Instruct with a committed expert): the multiple-choice answer each
// particle picks, and the greedy text. bfloat16 keeps 8 bits of mantissa, so a choice may only
// flip where float32 itself has the two best choices within bfloat16's rounding of each other:
// the tests assert the agreement and that every flip is such a near tie.
#include <ATen/ATen.h>

#include <algorithm>
#include <functional>
#include <sstream>

#include "formats/smollm2_fixture.h"
#include "modelswarm/formats/records.h"
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/utility/chat_template.h"
#include "modelswarm/utility/utility.h"
#include "search/stories_fixture.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;

struct McItem {
  std::vector<int64_t> context;
  std::vector<std::vector<int64_t>> choices;
};

// The first `limit` items of a {"query", "choices"} file; `format` turns a query into the text the
// model sees (a chat turn, or the query itself), which carries BOS itself when `format_adds_bos`.
std::vector<McItem> read_items(const fs::path& data, size_t limit, const tokenizer::Tokenizer& tokenizer,
                               const std::function<std::string(const std::string&)>& format, bool format_adds_bos) {
  std::vector<McItem> items;
  for (const auto& record : records::read_records(data)) {
    if (items.size() == limit) break;
    McItem item;
    item.context = tokenizer.encode(format(record.fields["query"].get<std::string>()), !format_adds_bos);
    for (const auto& choice : record.fields["choices"]) {
      std::string text = choice.get<std::string>();
      if (text.front() != ' ') text = " " + text;
      item.choices.push_back(tokenizer.encode(text, false));
    }
    items.push_back(std::move(item));
  }
  return items;
}

model::EngineOptions cpu(const std::string& dtype) {
  model::EngineOptions options;
  options.device = "cpu";
  options.dtype = dtype;
  options.max_batch_tokens = 4096;
  return options;
}

struct Agreement {
  int64_t same = 0, total = 0;
  double largest_score_gap = 0;    // max |bfloat16 − float32| of one choice's log-likelihood
  std::vector<double> flip_margins;  // float32's margin between the two answers, where they differ
  std::string flips;                 // "particle 2, item 17: float32 picks 1 (−7.31), bfloat16 3 (−7.33)"
};

// Every particle's answer to every item in float32 and in bfloat16 (particles as the search
// sends them: float32 rows cast to the engine's dtype).
Agreement compare_answers(const fs::path& model_dir, const lora::ExpertPool& pool, const at::Tensor& particles,
                          const std::vector<McItem>& items) {
  std::vector<model::ScoringRequest> requests;
  for (const auto& item : items)
    for (const auto& choice : item.choices) requests.push_back({item.context, choice});
  at::Tensor scores[2];
  const char* dtypes[2] = {"float32", "bfloat16"};
  for (int d = 0; d < 2; ++d) {
    auto evaluator = model::load_evaluator(model_dir, &pool.layout, cpu(dtypes[d]));
    scores[d] = evaluator->loglikelihood(particles.to(evaluator->dtype()), requests);  // (P, R) float64
  }
  Agreement a;
  a.largest_score_gap = (scores[1] - scores[0]).abs().max().item<double>();
  const auto f32 = scores[0].accessor<double, 2>(), bf16 = scores[1].accessor<double, 2>();
  for (int64_t p = 0; p < scores[0].size(0); ++p) {
    int64_t r = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const int64_t n = static_cast<int64_t>(items[i].choices.size());
      int64_t pick32 = 0, pick16 = 0;
      for (int64_t c = 1; c < n; ++c) {
        if (f32[p][r + c] > f32[p][r + pick32]) pick32 = c;
        if (bf16[p][r + c] > bf16[p][r + pick16]) pick16 = c;
      }
      ++a.total;
      if (pick32 == pick16) {
        ++a.same;
      } else {
        a.flip_margins.push_back(f32[p][r + pick32] - f32[p][r + pick16]);
        std::ostringstream line;
        line << "particle " << p << ", item " << i << ": float32 picks " << pick32 << " (" << f32[p][r + pick32]
             << " vs " << f32[p][r + pick16] << "), bfloat16 " << pick16 << " (" << bf16[p][r + pick16] << " vs "
             << bf16[p][r + pick32] << ")\n";
        a.flips += line.str();
      }
      r += n;
    }
  }
  return a;
}

// ≥ 98 % the same answer, and each different one a near tie in float32: its margin within twice
// the largest difference bfloat16 made to any one score.
void expect_same_answers(const Agreement& a) {
  const double share = static_cast<double>(a.same) / static_cast<double>(a.total);
  std::cout << "bfloat16 answers as float32 on " << a.same << " of " << a.total << " (" << 100.0 * share
            << " %); largest log-likelihood difference " << a.largest_score_gap << "\n"
            << a.flips;
  EXPECT_GE(share, 0.98) << a.flips;
  for (const double margin : a.flip_margins) EXPECT_LE(margin, 2 * a.largest_score_gap) << a.flips;
}

// Greedy continuations of `prompts` by each particle, in both dtypes.
std::vector<std::vector<std::string>> greedy(const fs::path& model_dir, const lora::ExpertPool& pool,
                                             const at::Tensor& particles, const std::vector<std::vector<int64_t>>& prompts,
                                             const std::string& dtype, int64_t new_tokens) {
  auto evaluator = model::load_evaluator(model_dir, &pool.layout, cpu(dtype));
  std::vector<model::GenerationRequest> requests;
  for (const auto& p : prompts) requests.push_back({p});
  model::GenerationOptions options;
  options.max_new_tokens = new_tokens;
  return evaluator->generate(particles.to(evaluator->dtype()), requests, options);
}

// Rows: the base model (zeros), each expert, their uniform average.
at::Tensor base_experts_and_average(const lora::ExpertPool& pool) {
  return at::cat({at::zeros({1, pool.layout.dim()}), pool.weights, pool.weights.mean(0, true)});
}

TEST(Bfloat16Accuracy, StoriesParticlesAnswerAsInFloat32) {
  MS_REQUIRE_SHARED();
  const auto& stories = test::stories_pool();
  ASSERT_FALSE(stories.experts.empty());
  const auto pool = lora::ExpertPool::load(stories.experts);
  const auto tokenizer = tokenizer::Tokenizer::from_model_dir(stories.model);
  auto plain = [](const std::string& query) { return query; };
  std::vector<McItem> items = read_items(test::source_dir() / "configs" / "data" / "stories_mc.jsonl", 40, tokenizer,
                                         plain, false);
  const auto csqa = read_items(test::shared_dir() / "datasets" / "commonsense_qa.jsonl", 60, tokenizer, plain, false);
  items.insert(items.end(), csqa.begin(), csqa.end());
  const at::Tensor particles = base_experts_and_average(pool);  // 7 particles x 100 items
  expect_same_answers(compare_answers(stories.model, pool, particles, items));

  std::vector<std::vector<int64_t>> prompts;
  for (const char* text : {"Once upon a time", "Lily and Tom went to the park. They", "The little dog was sad because"})
    prompts.push_back(tokenizer.encode(text, true));
  EXPECT_EQ(greedy(stories.model, pool, particles, prompts, "bfloat16", 40),
            greedy(stories.model, pool, particles, prompts, "float32", 40));
}

TEST(Bfloat16Accuracy, Smollm2ChatAnswersAsInFloat32) {
  MS_REQUIRE_SMOLLM2();
  MS_REQUIRE_SHARED();
  ASSERT_FALSE(test::smollm2_model().empty());
  const fs::path model_dir = test::smollm2_model();
  const auto pool = lora::ExpertPool::load({test::source_dir() / "models" / "smollm2-experts" / "commonsense_qa"});
  auto evaluator = model::load_evaluator(model_dir, &pool.layout, cpu("float32"));
  const auto encoder = utility::tokenizer_encoder(*evaluator);
  const auto chat = utility::ChatTemplate::parse("chatml", "test");
  const std::string system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
  auto as_chat = [&](const std::string& query) { return chat.apply(query, system, *encoder); };
  const auto items =
      read_items(test::shared_dir() / "datasets" / "commonsense_qa.jsonl", 50, evaluator->tokenizer(), as_chat, true);
  const at::Tensor particles = at::cat({at::zeros({1, pool.layout.dim()}), pool.weights});  // base, expert
  expect_same_answers(compare_answers(model_dir, pool, particles, items));

  std::vector<std::vector<int64_t>> prompts;
  for (const char* question : {"What is the capital of France?", "Name a fruit that is yellow."})
    prompts.push_back(evaluator->tokenizer().encode(as_chat(question), false));
  EXPECT_EQ(greedy(model_dir, pool, particles, prompts, "bfloat16", 16),
            greedy(model_dir, pool, particles, prompts, "float32", 16));
}

}  // namespace
}  // namespace modelswarm
