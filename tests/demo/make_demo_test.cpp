#include <algorithm>
// The demo generator on a reduced world: one seed gives byte-identical assets, a real tokenizer
// that encodes each word as one token, and experts that load as one pool over the base model.
#include <set>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/demo/fact_world.h"
#include "modelswarm/demo/make_demo.h"
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/transformer.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;

demo::DemoOptions small(uint64_t seed) {
  demo::DemoOptions o;
  o.seed = seed;
  o.countries = 6;
  o.values = 4;
  o.hidden_size = 16;
  o.intermediate_size = 24;
  o.pretrain.steps = 3;
  o.pretrain.log_every = 0;
  o.finetune.steps = 2;
  o.finetune.log_every = 0;
  return o;
}

std::map<std::string, std::string> files_under(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files[fs::relative(entry.path(), dir).string()] = read_file(entry.path());
  return files;
}

TEST(MakeDemo, SameSeedSameBytes) {
  const fs::path a = test::temp_dir("demo-a"), b = test::temp_dir("demo-b"), c = test::temp_dir("demo-c");
  demo::make_demo(a, small(7));
  demo::make_demo(b, small(7));
  demo::make_demo(c, small(8));
  const auto files = files_under(a);
  for (const char* expected : {"base/config.json", "base/tokenizer.json", "base/model.safetensors",
                               "experts/capital-2000/adapter_model.safetensors", "experts/language-1900/adapter_config.json",
                               "data/quiz.jsonl", "train/currency-2000.jsonl"})
    EXPECT_TRUE(files.count(expected)) << expected << " was not written";
  EXPECT_EQ(files_under(a), files_under(b));
  EXPECT_NE(files_under(a).at("base/model.safetensors"), files_under(c).at("base/model.safetensors"));
}

TEST(MakeDemo, WorldWordsAreSingleTokensAndExpertsFormOnePool) {
  const fs::path dir = test::temp_dir("demo-pool");
  demo::make_demo(dir, small(3));
  const auto world = demo::make_world(3, 6, 4);
  const auto tok = tokenizer::Tokenizer::from_model_dir(dir / "base");
  const std::string sentence = world.prompt(0, 1) + " " + world.topics[0].values[2];
  // BOS, then one token per word of the question and its answer.
  const size_t words = static_cast<size_t>(std::count(sentence.begin(), sentence.end(), ' ')) + 1;
  EXPECT_EQ(tok.encode(sentence, true).size(), words + 1) << sentence;
  EXPECT_EQ(tok.decode(tok.encode(sentence, true)), sentence);

  const auto base = model::Transformer::load(dir / "base", c10::Device(c10::kCPU), at::kFloat);
  std::vector<fs::path> experts;
  for (const auto& entry : fs::directory_iterator(dir / "experts")) experts.push_back(entry.path());
  ASSERT_EQ(experts.size(), 6u);
  const auto pool = lora::ExpertPool::load(experts, base.base_shapes());
  EXPECT_EQ(pool.size(), 6);
  // One seed, one A initialisation: after two small steps the experts' A matrices are still close.
  const auto& slot = pool.layout.slots().front();
  const at::Tensor A = pool.layout.a_view(pool.weights, slot);  // (6, R, in)
  EXPECT_LT((A[0] - A[1]).abs().max().item<double>(), 0.1 * A[0].abs().max().item<double>());
}

TEST(FactWorld, QuizQuestionsHaveTheTwoEditionsAmongTheirChoices) {
  const auto world = demo::make_world(5, 10, 6);
  const auto records = demo::quiz(world, 9);
  ASSERT_EQ(records.size(), 30u);  // 10 countries × 3 topics
  for (const auto& r : records) {
    ASSERT_EQ(r["choices"].size(), 4u);
    const auto choices = r["choices"].get<std::vector<std::string>>();
    const std::set<std::string> distinct(choices.begin(), choices.end());
    EXPECT_EQ(distinct.size(), 4u) << r.dump();
  }
  for (size_t t = 0; t < world.topics.size(); ++t)
    for (size_t c = 0; c < world.countries.size(); ++c) EXPECT_NE(world.facts[0][t][c], world.facts[1][t][c]);
}

}  // namespace
}  // namespace modelswarm
