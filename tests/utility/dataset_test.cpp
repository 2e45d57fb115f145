#include "modelswarm/utility/dataset.h"

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/json_reader.h"
#include "modelswarm/formats/records.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using utility::Role;
using json = nlohmann::json;

using test::message_of;

fs::path write(const fs::path& dir, const std::string& name, const std::string& text) {
  write_text_atomic(dir / name, text);
  return dir / name;
}

utility::TaskData load(const fs::path& dir, const json& data, std::vector<Role> required,
                       std::vector<Role> optional = {}) {
  JsonReader reader(data, "task.json", "utility.data");
  return utility::load_task_data(reader, dir, {std::move(required), std::move(optional)});
}

const std::vector<Role> kMultipleChoice = {Role::kPrompt, Role::kChoices, Role::kGold};

TEST(UtilityDataset, GauntletLayoutMapsWithoutConfiguration) {
  const fs::path dir = test::temp_dir("data");
  write(dir, "mc.jsonl",
        "{\"query\": \"Q1 Answer:\", \"choices\": [\"A\", \"B\"], \"gold\": 1}\n"
        "{\"query\": \"Q2 Answer:\", \"choices\": [\"A\", \"B\"], \"gold\": 0}\n");
  auto task = load(dir, {{"path", "mc.jsonl"}, {"shuffle", false}}, kMultipleChoice);
  ASSERT_EQ(task.dev.size(), 2u);
  EXPECT_EQ(task.dev[0].prompt, "Q1 Answer:");
  EXPECT_EQ(task.dev[0].choices, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(task.dev[0].gold, 1);
  EXPECT_EQ(task.dev[1].gold, 0);
  EXPECT_EQ(task.dev[1].location, (dir / "mc.jsonl").string() + ":2");
}

TEST(UtilityDataset, QuestionChoicesAnswerWithLetterOrIndexOrText) {
  const fs::path dir = test::temp_dir("data");
  write(dir, "q.jsonl",
        "{\"question\": \"q\", \"choices\": [\"x\", \"y\", \"z\"], \"answer\": \"C\"}\n"
        "{\"question\": \"q\", \"choices\": [\"x\", \"y\", \"z\"], \"answer\": 1}\n"
        "{\"question\": \"q\", \"choices\": [\"x\", \"y\", \"z\"], \"answer\": \"2\"}\n"
        "{\"question\": \"q\", \"choices\": [\"x\", \"y\", \"z\"], \"answer\": \"y\"}\n");
  auto task = load(dir, {{"path", "q.jsonl"}, {"shuffle", false}}, kMultipleChoice);
  ASSERT_EQ(task.dev.size(), 4u);
  EXPECT_EQ(task.dev[0].gold, 2);
  EXPECT_EQ(task.dev[1].gold, 1);
  EXPECT_EQ(task.dev[2].gold, 2);
  EXPECT_EQ(task.dev[3].gold, 1);
}

TEST(UtilityDataset, ContextContinuationAndQuestionAnswerLayouts) {
  const fs::path dir = test::temp_dir("data");
  write(dir, "cc.jsonl", "{\"context\": \"2 + 2 =\", \"continuation\": \" 4\"}\n");
  auto likelihood = load(dir, {{"path", "cc.jsonl"}}, {Role::kContinuation}, {Role::kPrompt});
  EXPECT_EQ(likelihood.dev[0].prompt, "2 + 2 =");
  EXPECT_EQ(likelihood.dev[0].continuation, " 4");
  auto generation = load(dir, {{"path", "cc.jsonl"}}, {Role::kPrompt, Role::kAnswer});
  EXPECT_EQ(generation.dev[0].answer, " 4");
  write(dir, "qa.jsonl", "{\"question\": \"How many?\", \"answer\": 42}\n");
  auto qa = load(dir, {{"path", "qa.jsonl"}}, {Role::kPrompt, Role::kAnswer});
  EXPECT_EQ(qa.dev[0].prompt, "How many?");
  EXPECT_EQ(qa.dev[0].answer, "42");
  // Optional roles may be absent; a template replaces the prompt field.
  write(dir, "story.jsonl", "{\"topic\": \"cats\"}\n");
  auto templated = load(dir, {{"path", "story.jsonl"}, {"prompt_template", "A story about {topic}:"}}, {Role::kPrompt},
                        {Role::kAnswer});
  EXPECT_EQ(templated.dev[0].prompt, "A story about cats:");
  EXPECT_EQ(templated.dev[0].answer, "");
  write(dir, "text.jsonl", "{\"text\": \"Once upon a time\"}\n");
  auto plain = load(dir, {{"path", "text.jsonl"}}, {Role::kContinuation}, {Role::kPrompt});
  EXPECT_EQ(plain.dev[0].prompt, "");
  EXPECT_EQ(plain.dev[0].continuation, "Once upon a time");
}

TEST(UtilityDataset, ExplicitFieldMappingAndMissingFieldNamesLine) {
  const fs::path dir = test::temp_dir("data");
  write(dir, "m.jsonl",
        "{\"stem\": \"s1\", \"opts\": [\"a\", \"b\"], \"key\": 0}\n"
        "{\"stem\": \"s2\", \"opts\": [\"a\", \"b\"]}\n");
  const json fields = {{"prompt", "stem"}, {"choices", "opts"}, {"gold", "key"}};
  const std::string m = message_of<Error>([&] { load(dir, {{"path", "m.jsonl"}, {"fields", fields}}, kMultipleChoice); });
  EXPECT_NE(m.find((dir / "m.jsonl").string() + ":2: missing field \"key\" (task.json: utility.data.fields.gold)"),
            std::string::npos)
      << m;
  write(dir, "n.jsonl", "{\"x\": 1}\n");
  const std::string none = message_of<Error>([&] { load(dir, {{"path", "n.jsonl"}}, kMultipleChoice); });
  EXPECT_NE(none.find(":1: no field for the prompt (looked for query, question"), std::string::npos) << none;
  const std::string unused = message_of<ConfigError>(
      [&] { load(dir, {{"path", "n.jsonl"}, {"fields", {{"answer", "x"}}}}, kMultipleChoice); });
  EXPECT_NE(unused.find("utility.data.fields.answer: not a field this utility uses"), std::string::npos) << unused;
}

TEST(UtilityDataset, GoldOutOfRangeOrUnrecognised) {
  const fs::path dir = test::temp_dir("data");
  write(dir, "g.jsonl", "{\"query\": \"q\", \"choices\": [\"a\"], \"gold\": 0}\n{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 2}\n");
  std::string m = message_of<Error>([&] { load(dir, {{"path", "g.jsonl"}}, kMultipleChoice); });
  EXPECT_NE(m.find("g.jsonl:2: gold 2 is out of range for 2 choices"), std::string::npos) << m;
  write(dir, "h.jsonl", "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": \"maybe\"}\n");
  m = message_of<Error>([&] { load(dir, {{"path", "h.jsonl"}}, kMultipleChoice); });
  EXPECT_NE(m.find("h.jsonl:1: gold \"maybe\" is neither an index"), std::string::npos) << m;
  write(dir, "i.jsonl", "{\"query\": \"q\", \"choices\": \"a\", \"gold\": 0}\n");
  m = message_of<Error>([&] { load(dir, {{"path", "i.jsonl"}}, kMultipleChoice); });
  EXPECT_NE(m.find("i.jsonl:1: choices must be a non-empty array"), std::string::npos) << m;
}

TEST(UtilityDataset, PromptTemplateRendersFieldsAndListsChoices) {
  const fs::path dir = test::temp_dir("data");
  write(dir, "t.jsonl", "{\"question\": \"Why?\", \"choices\": [\"yes\", \"no\"], \"answer\": \"B\"}\n");
  auto task = load(dir,
                   {{"path", "t.jsonl"}, {"prompt_template", "Q: {question}\n{choices}\nAnswer {{letter}}:"}},
                   kMultipleChoice);
  EXPECT_EQ(task.dev[0].prompt, "Q: Why?\nA. yes\nB. no\nAnswer {letter}:");
}

TEST(UtilityDataset, TemplateNamingUnknownFieldIsAConfigError) {
  const fs::path dir = test::temp_dir("data");
  write(dir, "t.jsonl", "{\"question\": \"Why?\", \"choices\": [\"yes\", \"no\"], \"answer\": 0}\n");
  const std::string m = message_of<ConfigError>(
      [&] { load(dir, {{"path", "t.jsonl"}, {"prompt_template", "Q: {questoin}"}}, kMultipleChoice); });
  EXPECT_NE(m.find("task.json: utility.data.prompt_template: names field {questoin}"), std::string::npos) << m;
  EXPECT_NE(m.find("it has: answer, choices, question"), std::string::npos) << m;
  const std::string brace = message_of<ConfigError>(
      [&] { load(dir, {{"path", "t.jsonl"}, {"prompt_template", "Q: {question"}}, kMultipleChoice); });
  EXPECT_NE(brace.find("utility.data.prompt_template: unclosed"), std::string::npos) << brace;
}

TEST(UtilityDataset, UnknownKeysAndBadSizesAreConfigErrors) {
  const fs::path dir = test::temp_dir("data");
  write(dir, "t.jsonl", "{\"query\": \"q\", \"choices\": [\"a\"], \"gold\": 0}\n");
  EXPECT_NE(message_of<ConfigError>([&] { load(dir, {{"path", "t.jsonl"}, {"devsize", 3}}, kMultipleChoice); })
                .find("task.json: utility.data.devsize: unknown key"),
            std::string::npos);
  EXPECT_NE(message_of<ConfigError>([&] { load(dir, {{"path", "t.jsonl"}, {"dev_size", 0}}, kMultipleChoice); })
                .find("utility.data.dev_size: must be in [1"),
            std::string::npos);
  EXPECT_NE(message_of<ConfigError>([&] { load(dir, {{"path", "t.jsonl"}, {"few_shot", 1}}, kMultipleChoice); })
                .find("utility.data.few_shot: 1 examples leave none"),
            std::string::npos);
  EXPECT_NE(message_of<Error>([&] { load(dir, {{"path", "missing.jsonl"}}, kMultipleChoice); }).find("missing.jsonl"),
            std::string::npos);
}

TEST(UtilityDataset, SplitIsDeterministicDisjointAndSized) {
  const fs::path dir = test::temp_dir("data");
  std::string text;
  for (int i = 0; i < 50; ++i) text += json{{"query", std::to_string(i)}, {"choices", {"a", "b"}}, {"gold", i % 2}}.dump() + "\n";
  write(dir, "s.jsonl", text);
  const json config = {{"path", "s.jsonl"}, {"dev_size", 20}, {"test_size", 25}, {"seed", 7u}};
  auto a = load(dir, config, kMultipleChoice);
  auto b = load(dir, config, kMultipleChoice);
  ASSERT_EQ(a.dev.size(), 20u);
  ASSERT_EQ(a.test.size(), 25u);
  std::set<int64_t> seen;
  for (size_t i = 0; i < a.dev.size(); ++i) {
    EXPECT_EQ(a.dev[i].record, b.dev[i].record);
    seen.insert(a.dev[i].record);
  }
  for (const auto& ex : a.test) seen.insert(ex.record);
  EXPECT_EQ(seen.size(), 45u);  // no example in both splits
  json other = config;
  other["seed"] = 8u;
  auto c = load(dir, other, kMultipleChoice);
  bool differs = false;
  for (size_t i = 0; i < a.dev.size(); ++i) differs |= a.dev[i].record != c.dev[i].record;
  EXPECT_TRUE(differs);
  // Without shuffling the file order is kept; the default test split is the rest.
  auto ordered = load(dir, {{"path", "s.jsonl"}, {"dev_size", 10}, {"shuffle", false}}, kMultipleChoice);
  EXPECT_EQ(ordered.dev[3].record, 3);
  EXPECT_EQ(ordered.test.size(), 40u);
  EXPECT_EQ(ordered.test[0].record, 10);
}

TEST(UtilityDataset, AValidationSplitComesAfterDevAndBeforeTest) {
  const fs::path dir = test::temp_dir("data");
  std::string text;
  for (int i = 0; i < 30; ++i) text += json{{"query", std::to_string(i)}, {"choices", {"a", "b"}}, {"gold", i % 2}}.dump() + "\n";
  write(dir, "v.jsonl", text);
  const json plain = {{"path", "v.jsonl"}, {"dev_size", 10}, {"test_size", 12}, {"few_shot", 1}};
  json with_validation = plain;
  with_validation["validation_size"] = 5;
  const auto a = load(dir, plain, kMultipleChoice);
  const auto b = load(dir, with_validation, kMultipleChoice);
  EXPECT_TRUE(a.validation.empty());
  ASSERT_EQ(b.validation.size(), 5u);
  ASSERT_EQ(b.test.size(), 12u);
  // Dev is unchanged; validation takes the examples that followed it, and test moves on.
  for (size_t i = 0; i < a.dev.size(); ++i) EXPECT_EQ(a.dev[i].record, b.dev[i].record);
  for (size_t i = 0; i < b.validation.size(); ++i) EXPECT_EQ(b.validation[i].record, a.test[i].record);
  EXPECT_EQ(b.test[0].record, a.test[5].record);
  EXPECT_EQ(b.validation[0].prompt.rfind(b.shots[0].prompt, 0), 0u);  // few-shot prefix too
  EXPECT_EQ(&b.split(utility::Split::kValidation), &b.validation);
  EXPECT_NE(message_of<ConfigError>([&] {
              load(dir, {{"path", "v.jsonl"}, {"validation_size", -1}}, kMultipleChoice);
            }).find("utility.data.validation_size"),
            std::string::npos);
}

TEST(UtilityDataset, FewShotExamplesPrefixEveryPrompt) {
  const fs::path dir = test::temp_dir("data");
  write(dir, "f.jsonl",
        "{\"query\": \"1+1=\", \"choices\": [\"2\", \"3\"], \"gold\": 0}\n"
        "{\"query\": \"2+2=\", \"choices\": [\"4\", \"5\"], \"gold\": 0}\n"
        "{\"query\": \"3+3=\", \"choices\": [\"5\", \"6\"], \"gold\": 1}\n");
  auto task = load(dir, {{"path", "f.jsonl"}, {"shuffle", false}, {"few_shot", 2}, {"few_shot_separator", "\n"}},
                   kMultipleChoice);
  ASSERT_EQ(task.shots.size(), 2u);
  ASSERT_EQ(task.dev.size(), 1u);
  EXPECT_EQ(task.dev[0].prompt, "1+1= 2\n2+2= 4\n3+3=");
}

TEST(UtilityDataset, ContinuationDelimiterFollowsWhitespace) {
  EXPECT_EQ(utility::continuation_delimiter(std::nullopt, "Answer:", "A"), " ");
  EXPECT_EQ(utility::continuation_delimiter(std::nullopt, "play in the", " park"), "");
  EXPECT_EQ(utility::continuation_delimiter(std::nullopt, "Answer: ", "A"), "");
  EXPECT_EQ(utility::continuation_delimiter(std::string("\n"), "Answer:", "A"), "\n");
}

TEST(UtilityDataset, PermutationIsFixedForASeed) {
  // mt19937_64 is specified by the standard: this sequence must not change between platforms.
  const auto a = utility::deterministic_permutation(10, 42);
  EXPECT_EQ(a, utility::deterministic_permutation(10, 42));
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_NE(a, sorted);
}

// ---- the real files in ../shared/datasets ----

fs::path datasets() { return test::shared_dir() / "datasets"; }

TEST(UtilityDatasetShared, CommonsenseAndOpenbookQaMapAsMultipleChoice) {
  MS_REQUIRE_SHARED();
  for (const char* name : {"commonsense_qa.jsonl", "openbook_qa.jsonl"}) {
    auto task = load(datasets(), {{"path", name}}, kMultipleChoice);
    const size_t total = records::read_records(datasets() / name).size();
    EXPECT_EQ(task.dev.size(), 200u) << name;
    EXPECT_EQ(task.dev.size() + task.test.size(), total) << name;
    for (const auto& ex : task.dev) {
      EXPECT_FALSE(ex.prompt.empty());
      EXPECT_GE(ex.choices.size(), 2u);
      EXPECT_GE(ex.gold, 0);
      EXPECT_LT(ex.gold, static_cast<int64_t>(ex.choices.size()));
    }
  }
  auto csqa = load(datasets(), {{"path", "commonsense_qa.jsonl"}, {"shuffle", false}}, kMultipleChoice);
  EXPECT_EQ(csqa.dev[0].prompt.rfind("Question: A revolving door", 0), 0u);
  EXPECT_EQ(csqa.dev[0].choices[0], "A");
}

TEST(UtilityDatasetShared, SvampAndArithmeticMapAsGeneration) {
  MS_REQUIRE_SHARED();
  auto svamp = load(datasets(), {{"path", "svamp.jsonl"}, {"shuffle", false}}, {Role::kPrompt, Role::kAnswer});
  EXPECT_EQ(svamp.dev[1].answer, "587");
  EXPECT_EQ(svamp.dev[1].prompt.rfind("Paul got a box", 0), 0u);
  EXPECT_EQ(svamp.test.size(), 100u);
  auto arithmetic = load(datasets(), {{"path", "simple_arithmetic_withspaces.jsonl"}, {"shuffle", false}},
                         {Role::kPrompt, Role::kAnswer});
  EXPECT_EQ(arithmetic.dev[0].prompt, "25 - 759 =");
  EXPECT_EQ(arithmetic.dev[0].answer, " -734");
}

TEST(UtilityDatasetShared, LambadaMapsAsLikelihood) {
  MS_REQUIRE_SHARED();
  auto lambada = load(datasets(), {{"path", "lambada_openai_small.jsonl"}, {"shuffle", false}}, {Role::kContinuation},
                      {Role::kPrompt});
  ASSERT_EQ(lambada.dev.size(), 8u);
  EXPECT_EQ(lambada.dev[0].continuation, "signs");
  EXPECT_NE(lambada.dev[0].prompt.find("I don't care about"), std::string::npos);
}

}  // namespace
}  // namespace modelswarm
