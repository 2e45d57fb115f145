// `modelswarm finetune` on the committed demo base model: the adapter it writes makes the model
// answer its training prompts, the same seed gives the same bytes, and Hugging Face PEFT loads it
// and computes the same logits as our engine.
#include <ATen/ATen.h>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/transformer.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path kBase = test::source_dir() / "demo" / "base";

// Six quiz questions of one skill (capitals of northern countries, 2000 edition) with their
// answers, as {"q", "a"} records (non-default field names).
std::vector<json> training_records() {
  std::vector<json> records;
  const std::string quiz = read_file(test::source_dir() / "demo" / "data" / "quiz.jsonl");
  std::istringstream lines(quiz);
  for (std::string line; records.size() < 6 && std::getline(lines, line);) {
    const json r = json::parse(line);
    if (r["topic"] != "capital" || r["query"].get<std::string>().find(" north ") == std::string::npos) continue;
    // Appended, not " " + answer: GCC 12 at -O3 warns falsely (-Wstringop-overflow) on
    // operator+(const char*, std::string&&) (as in tests/test_utils.cpp).
    std::string answer = " ";
    answer += r["choices"][r["gold"].get<int>()].get<std::string>();
    records.push_back({{"q", r["query"]}, {"a", answer}});
  }
  return records;
}

std::vector<std::string> finetune_args(const fs::path& data, const fs::path& out) {
  return {"-q", "finetune", "--model", kBase.string(), "--data", data.string(), "--output", out.string(),
          "--prompt-field", "q", "--completion-field", "a", "--rank", "4", "--alpha", "8",
          "--target-modules", "all-linear", "--steps", "60", "--lr", "1e-2", "--batch-size", "6", "--seed", "3"};
}

TEST(FinetuneCli, AdapterAnswersItsPromptsIsDeterministicAndPeftComputesTheSameLogits) {
  const fs::path work = test::temp_dir("finetune");
  const auto records = training_records();
  ASSERT_EQ(records.size(), 6u);
  write_file_atomic(work / "train.jsonl", [&](std::ostream& out) {
    for (const auto& r : records) out << r.dump() << "\n";
  });

  const auto first = test::run_cli(finetune_args(work / "train.jsonl", work / "a"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto second = test::run_cli(finetune_args(work / "train.jsonl", work / "b"));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(read_file(work / "a" / "adapter_model.safetensors"), read_file(work / "b" / "adapter_model.safetensors"));
  EXPECT_EQ(read_file(work / "a" / "adapter_config.json"), read_file(work / "b" / "adapter_config.json"));

  const json config = json::parse(read_file(work / "a" / "adapter_config.json"));
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 8.0);
  EXPECT_EQ(config["target_modules"].size(), 14u);  // all seven projections of both layers
  const auto& log = config["modelswarm"]["finetune"];
  // The loss falls clearly (it levels off near 0.75 on this data: see the closing note of issue 6).
  EXPECT_LT(log["last_loss"].get<double>(), 0.8 * log["first_loss"].get<double>()) << log.dump();

  // Greedy continuation of training prompts: the trained answer with the adapter.
  int base_right = 0;
  for (size_t i = 0; i < 2; ++i) {
    const std::string prompt = records[i]["q"], answer = records[i]["a"];
    const auto tuned = test::run_cli({"-q", "generate", "--model", kBase.string(), "--adapter", (work / "a").string(),
                                      "--prompt", prompt, "--max-new-tokens", "1"});
    ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
    EXPECT_EQ(tuned.output, answer + "\n") << prompt;
    const auto plain = test::run_cli({"-q", "generate", "--model", kBase.string(), "--prompt", prompt,
                                      "--max-new-tokens", "1"});
    base_right += plain.output == answer + "\n";
  }
  EXPECT_LT(base_right, 2);

  // PEFT reads the adapter: same token ids and the same logits as our engine with it.
  const std::string text = records[0]["q"].get<std::string>() + records[0]["a"].get<std::string>();
  ASSERT_TRUE(test::run_python("finetune_oracle.py",
                               {kBase.string(), (work / "a").string(), text, (work / "oracle.safetensors").string()}));
  const auto oracle = safetensors::File::open(work / "oracle.safetensors");
  const auto tok = tokenizer::Tokenizer::from_model_dir(kBase);
  const auto ids = tok.encode(text, /*add_special_tokens=*/true);
  ASSERT_TRUE(at::equal(at::tensor(ids), oracle.tensor("ids"))) << "tokenizer ids differ from Hugging Face tokenizers";
  const auto base = model::Transformer::load(kBase, c10::Device(c10::kCPU), at::kFloat);
  const auto pool = lora::ExpertPool::load({work / "a"}, base.base_shapes());
  const model::LoraBatch lora{&pool.layout, pool.weights, at::Tensor()};
  const int64_t n = static_cast<int64_t>(ids.size());
  const at::Tensor tokens = at::tensor(ids).unsqueeze(0), valid = at::ones({1, n}, at::kBool);
  EXPECT_LT(test::max_abs_diff(base.forward(tokens, valid)[0], oracle.tensor("base_logits")), 1e-4);
  EXPECT_LT(test::max_abs_diff(base.forward(tokens, valid, &lora)[0], oracle.tensor("logits")), 1e-4);
  EXPECT_GT(test::max_abs_diff(oracle.tensor("logits"), oracle.tensor("base_logits")), 1e-2);
}

TEST(FinetuneCli, MissingFieldNamesTheLineAndWritesNothing) {
  const fs::path work = test::temp_dir("finetune-bad");
  write_text_atomic(work / "train.jsonl", "{\"prompt\": \"The capital of\", \"completion\": \" x\"}\n{\"prompt\": \"y\"}\n");
  const auto result = test::run_cli({"-q", "finetune", "--model", kBase.string(), "--data",
                                     (work / "train.jsonl").string(), "--output", (work / "out").string()});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("train.jsonl:2: missing field \"completion\""), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(work / "out"));
}

}  // namespace
}  // namespace modelswarm
