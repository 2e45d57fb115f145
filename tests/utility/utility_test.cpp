#include "modelswarm/utility/utility.h"

#include <cmath>
#include <map>
#include <set>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/json_reader.h"
#include "modelswarm/config/task_config.h"
#include "modelswarm/utility/chat_template.h"
#include "test_utils.h"
#include "utility/fakes.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using test::ByteEncoder;
using test::ScriptedEvaluator;
using utility::Split;

using test::message_of;

std::unique_ptr<utility::Utility> make(const json& config, const fs::path& dir) {
  return utility::make_utility(config, "task.json", utility::UtilityContext{dir, nullptr});
}

// Three questions, two choices each; the scripted log-likelihoods below make the answers known.
fs::path write_mc(const fs::path& dir) {
  write_text_atomic(dir / "mc.jsonl",
                    "{\"query\": \"Q1:\", \"choices\": [\"a\", \"bbbb\"], \"gold\": 1}\n"
                    "{\"query\": \"Q2:\", \"choices\": [\"cc\", \"d\"], \"gold\": 0}\n"
                    "{\"query\": \"Q3:\", \"choices\": [\"e\", \"ff\"], \"gold\": 0}\n");
  return dir / "mc.jsonl";
}

const json kMcData = {{"path", "mc.jsonl"}, {"shuffle", false}};

// ---- registry ----

TEST(UtilityRegistry, KnowsTheBuiltInTypes) {
  const auto names = utility::known_utilities();
  for (const char* n : {"command", "composite", "generation", "judge", "likelihood", "multiple_choice", "reward_model"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
}

TEST(UtilityRegistry, UnknownTypeNamesTheKeyAndListsKnownTypes) {
  const std::string m = message_of<ConfigError>([] { make({{"type", "accuracy"}}, "."); });
  EXPECT_NE(m.find("task.json: utility.type: unknown utility type \"accuracy\" (known: command, composite, generation"),
            std::string::npos)
      << m;
  EXPECT_NE(message_of<ConfigError>([] { make({{"kind", "x"}}, "."); }).find("utility.type: is required"),
            std::string::npos);
}

TEST(UtilityRegistry, UnknownKeyAndWrongTypeAreRejectedWithPath) {
  const fs::path dir = test::temp_dir("mc");
  write_mc(dir);
  std::string m = message_of<ConfigError>([&] { make({{"type", "multiple_choice"}, {"data", kMcData}, {"metrc", "acc"}}, dir); });
  EXPECT_NE(m.find("task.json: utility.metrc: unknown key"), std::string::npos) << m;
  m = message_of<ConfigError>([&] { make({{"type", "multiple_choice"}, {"data", kMcData}, {"metric", 1}}, dir); });
  EXPECT_NE(m.find("task.json: utility.metric: expected a string"), std::string::npos) << m;
  m = message_of<ConfigError>([&] { make({{"type", "multiple_choice"}, {"data", kMcData}, {"metric", "f1"}}, dir); });
  EXPECT_NE(m.find("utility.metric: must be \"acc\" or \"acc_norm\""), std::string::npos) << m;
  m = message_of<ConfigError>([&] { make({{"type", "multiple_choice"}, {"data", kMcData}, {"max_new_tokens", 3}}, dir); });
  EXPECT_NE(m.find("utility.max_new_tokens: applies to mode \"generate\" only"), std::string::npos) << m;
  m = message_of<ConfigError>([&] { make({{"type", "multiple_choice"}}, dir); });
  EXPECT_NE(m.find("utility.data: is required but missing"), std::string::npos) << m;
}

TEST(UtilityRegistry, PluginsRegisterByName) {
  struct Constant : utility::Utility {
    Constant(JsonReader& config, const utility::UtilityContext&) : value(config.get<double>("value")) {}
    utility::Scores score(model::Evaluator&, const utility::TokenEncoder&, const at::Tensor& particles, Split) override {
      return {std::vector<double>(particles.defined() ? particles.size(0) : 1, value), {}};
    }
    utility::UtilityInfo info() const override { return {"constant", "value", "constant", 0, 0}; }
    double value;
  };
  utility::register_utility<Constant>("test_constant");
  auto u = make({{"type", "test_constant"}, {"value", 0.25}}, ".");
  ScriptedEvaluator ev;
  ByteEncoder enc;
  EXPECT_EQ(u->score(ev, enc, test::particles(3), Split::kDev).utility, (std::vector<double>{0.25, 0.25, 0.25}));
}

// ---- multiple_choice ----

TEST(UtilityMultipleChoice, AccuracyAndLengthNormalisedAccuracyByHand) {
  const fs::path dir = test::temp_dir("mc");
  write_mc(dir);
  // Continuation log-likelihoods per particle. Particle 0:
  //   Q1: a -1.0, bbbb -2.0  -> acc picks a (wrong);   per byte a -1.0, bbbb -0.5 -> bbbb (right)
  //   Q2: cc -1.0, d -0.8    -> acc picks d (wrong);   per byte cc -0.5, d -0.8  -> cc (right)
  //   Q3: e -0.1, ff -3.0    -> e (right) both ways
  // so acc = 1/3, acc_norm = 1. Particle 1 scores every choice the same: ties go to the first
  // choice, right on Q2 and Q3: acc = 2/3; per byte it picks bbbb, cc, ff: acc_norm = 2/3.
  const std::map<std::string, double> p0 = {{" a", -1.0}, {" bbbb", -2.0}, {" cc", -1.0}, {" d", -0.8}, {" e", -0.1}, {" ff", -3.0}};
  ScriptedEvaluator ev;
  ev.loglik = [&](int64_t p, const std::string&, const std::string& cont) { return p == 0 ? p0.at(cont) : -1.0; };
  ByteEncoder enc;
  auto acc = make({{"type", "multiple_choice"}, {"data", kMcData}}, dir);
  auto s = acc->score(ev, enc, test::particles(2), Split::kDev);
  ASSERT_EQ(s.utility.size(), 2u);
  EXPECT_DOUBLE_EQ(s.utility[0], 1.0 / 3);
  EXPECT_DOUBLE_EQ(s.metrics["acc_norm"][0], 1.0);
  EXPECT_DOUBLE_EQ(s.utility[1], 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.metrics["acc_norm"][1], 2.0 / 3);
  auto norm = make({{"type", "multiple_choice"}, {"data", kMcData}, {"metric", "acc_norm"}}, dir);
  EXPECT_EQ(norm->score(ev, enc, test::particles(2), Split::kDev).utility, (std::vector<double>{1.0, 2.0 / 3}));
  EXPECT_EQ(norm->info().metric, "acc_norm");
  EXPECT_EQ(norm->info().dev_examples, 3);
}

TEST(UtilityMultipleChoice, AccuracyEqualsArgmaxOfPerChoiceLogLikelihoods) {
  const fs::path dir = test::temp_dir("mc");
  std::string text;
  for (int i = 0; i < 60; ++i)
    text += json{{"query", "question " + std::to_string(i) + ":"}, {"choices", {"w", "xx", "yyy", "z"}}, {"gold", i % 4}}.dump() + "\n";
  write_text_atomic(dir / "many.jsonl", text);
  // A pseudo-random log-likelihood per (particle, context, continuation).
  ScriptedEvaluator ev;
  ev.loglik = [](int64_t p, const std::string& ctx, const std::string& cont) {
    return -static_cast<double>(std::hash<std::string>{}(std::to_string(p) + ctx + cont) % 1000) / 100.0;
  };
  ByteEncoder enc;
  auto u = make({{"type", "multiple_choice"}, {"data", {{"path", "many.jsonl"}, {"dev_size", 40}}}}, dir);
  const int64_t P = 4;
  const auto s = u->score(ev, enc, test::particles(P), Split::kDev);
  // By hand, from the requests the utility sent and the evaluator's numbers.
  const auto& requests = ev.last_scoring;
  ASSERT_EQ(requests.size(), 40u * 4);
  const at::Tensor ll = ev.loglikelihood(test::particles(P), requests);
  for (int64_t p = 0; p < P; ++p) {
    int correct = 0;
    for (int64_t e = 0; e < 40; ++e) {
      const std::string ctx = ByteEncoder::decode(requests[e * 4].context);
      const int64_t record = std::stoll(ctx.substr(ctx.find("question ") + 9));
      int64_t best = 0;
      for (int64_t c = 1; c < 4; ++c)
        if (ll[p][e * 4 + c].item<double>() > ll[p][e * 4 + best].item<double>()) best = c;
      correct += best == record % 4;
    }
    EXPECT_DOUBLE_EQ(s.utility[p], correct / 40.0) << "particle " << p;
  }
}

TEST(UtilityMultipleChoice, TokenisesLikeTheHarnessOnceAndScoresAllParticlesInOneCall) {
  const fs::path dir = test::temp_dir("mc");
  write_mc(dir);
  ScriptedEvaluator ev;
  ByteEncoder enc;
  auto u = make({{"type", "multiple_choice"}, {"data", kMcData}}, dir);
  u->score(ev, enc, test::particles(5), Split::kDev);
  EXPECT_EQ(ev.loglikelihood_calls, 1);
  ASSERT_EQ(ev.last_scoring.size(), 6u);
  // BOS + "Q1:" as context, " a" (the delimiter belongs to the continuation) as continuation.
  EXPECT_EQ(ev.last_scoring[0].context, enc.encode("Q1:", true));
  EXPECT_EQ(ev.last_scoring[0].continuation, enc.encode(" a", false));
  const int64_t calls = enc.encode_calls;
  u->score(ev, enc, test::particles(5), Split::kDev);
  u->score(ev, enc, at::Tensor(), Split::kDev);  // the base model
  EXPECT_EQ(enc.encode_calls, calls) << "token ids are computed once per run";
  EXPECT_EQ(ev.loglikelihood_calls, 3);
}

TEST(UtilityMultipleChoice, GenerateModeParsesTheAnswerLetter) {
  const fs::path dir = test::temp_dir("mc");
  write_mc(dir);
  ScriptedEvaluator ev;
  // Particle 0 answers B, A, A (all right); particle 1 answers "(B)", "Answer: B", garbage.
  ev.generator = [](int64_t p, const std::string& prompt) -> std::string {
    if (p == 0) return prompt.find("Q1") != std::string::npos ? " B. bbbb" : " A";
    if (prompt.find("Q1") != std::string::npos) return " (B)";
    if (prompt.find("Q2") != std::string::npos) return " Answer: B";
    return " I do not know";
  };
  ByteEncoder enc;
  auto u = make({{"type", "multiple_choice"}, {"data", kMcData}, {"mode", "generate"}}, dir);
  const auto s = u->score(ev, enc, test::particles(2), Split::kDev);
  EXPECT_DOUBLE_EQ(s.utility[0], 1.0);
  EXPECT_DOUBLE_EQ(s.utility[1], 1.0 / 3);
  EXPECT_EQ(ev.last_options.max_new_tokens, 10);
  EXPECT_EQ(ev.last_options.temperature, 0.0);
}

TEST(UtilityMultipleChoice, EmptyTestSplitIsAnErrorNamingTheFile) {
  const fs::path dir = test::temp_dir("mc");
  write_mc(dir);
  ScriptedEvaluator ev;
  ByteEncoder enc;
  auto u = make({{"type", "multiple_choice"}, {"data", kMcData}}, dir);
  EXPECT_EQ(u->info().test_examples, 0);
  const std::string m = message_of<Error>([&] { u->score(ev, enc, test::particles(1), Split::kTest); });
  EXPECT_NE(m.find("mc.jsonl: the test split is empty"), std::string::npos) << m;
}

// ---- generation ----

fs::path write_qa(const fs::path& dir) {
  write_text_atomic(dir / "qa.jsonl",
                    "{\"question\": \"q1\", \"answer\": \"Paris\"}\n"
                    "{\"question\": \"q2\", \"answer\": \"#### 1,234\"}\n"
                    "{\"question\": \"q3\", \"answer\": \"42\"}\n"
                    "{\"question\": \"q4\", \"answer\": \"blue\"}\n");
  return dir / "qa.jsonl";
}

double generation_score(const json& extra, const fs::path& dir, const std::map<std::string, std::string>& outputs) {
  json config = {{"type", "generation"}, {"data", {{"path", "qa.jsonl"}, {"shuffle", false}}}};
  for (const auto& item : extra.items()) config[item.key()] = item.value();
  auto u = make(config, dir);
  ScriptedEvaluator ev;
  ev.generator = [&](int64_t, const std::string& prompt) { return outputs.at(prompt.substr(3)); };  // after BOS
  ByteEncoder enc;
  return u->score(ev, enc, test::particles(1), Split::kDev).utility[0];
}

TEST(UtilityGeneration, ScoringModesByHand) {
  const fs::path dir = test::temp_dir("gen");
  write_qa(dir);
  const std::map<std::string, std::string> outputs = {
      {"q1", " Paris "}, {"q2", "so the total is 1234."}, {"q3", "It is 41 or 42, surely 43"}, {"q4", "Blue"}};
  EXPECT_DOUBLE_EQ(generation_score({}, dir, outputs), 0.25);  // only " Paris " == "Paris" after trimming
  EXPECT_DOUBLE_EQ(generation_score({{"ignore_case", true}}, dir, outputs), 0.5);
  EXPECT_DOUBLE_EQ(generation_score({{"scoring", "contains"}}, dir, outputs), 0.5);  // Paris, 42
  // numeric: last number of each: Paris has none -> error at load (checked below); use q2..q4 only.
  EXPECT_DOUBLE_EQ(generation_score({{"scoring", "regex"}, {"extract_regex", "(\\w+)\\s*$"}}, dir, outputs), 0.25);
}

TEST(UtilityGeneration, NumericComparesLastNumbersGsm8kStyle) {
  const fs::path dir = test::temp_dir("gen");
  write_text_atomic(dir / "qa.jsonl",
                    "{\"question\": \"q1\", \"answer\": \"Total: #### 1,234\"}\n"
                    "{\"question\": \"q2\", \"answer\": \"587\"}\n"
                    "{\"question\": \"q3\", \"answer\": \"-3\"}\n"
                    "{\"question\": \"q4\", \"answer\": \"2.5\"}\n");
  const std::map<std::string, std::string> outputs = {
      {"q1", "so 1000 + 234 = 1234."}, {"q2", "587 apples, 3 pears"}, {"q3", "it is -3"}, {"q4", "2.50"}};
  EXPECT_DOUBLE_EQ(generation_score({{"scoring", "numeric"}}, dir, outputs), 0.75);
  write_qa(dir);
  const std::string m = message_of<Error>([&] { generation_score({{"scoring", "numeric"}}, dir, {}); });
  EXPECT_NE(m.find("qa.jsonl:1: the answer \"Paris\" has no number"), std::string::npos) << m;
}

TEST(UtilityGeneration, PassesStopStringsAndMaxNewTokens) {
  const fs::path dir = test::temp_dir("gen");
  write_qa(dir);
  auto u = make({{"type", "generation"}, {"data", {{"path", "qa.jsonl"}}}, {"stop", {"\n", "Q:"}}, {"max_new_tokens", 7}}, dir);
  ScriptedEvaluator ev;
  ev.generator = [](int64_t, const std::string&) { return std::string("Paris\nQ: next"); };
  ByteEncoder enc;
  const auto s = u->score(ev, enc, test::particles(2), Split::kDev);
  EXPECT_EQ(ev.last_options.max_new_tokens, 7);
  EXPECT_EQ(ev.last_options.stop, (std::vector<std::string>{"\n", "Q:"}));
  EXPECT_DOUBLE_EQ(s.utility[1], 0.25);
  EXPECT_NE(message_of<ConfigError>([&] { make({{"type", "generation"}, {"data", {{"path", "qa.jsonl"}}}, {"scoring", "regex"}}, dir); })
                .find("utility.extract_regex: is required"),
            std::string::npos);
  EXPECT_NE(message_of<Error>([&] {
              make({{"type", "generation"}, {"data", {{"path", "qa.jsonl"}}}, {"scoring", "regex"}, {"extract_regex", "(unclosed"}}, dir);
            }).find("utility.extract_regex"),
            std::string::npos);
}

// ---- likelihood ----

TEST(UtilityLikelihood, PerTokenLogLikelihoodAndPerplexityByHand) {
  const fs::path dir = test::temp_dir("ll");
  write_text_atomic(dir / "cc.jsonl",
                    "{\"context\": \"The cat\", \"continuation\": \"sat\"}\n"
                    "{\"text\": \"ab\"}\n");
  ScriptedEvaluator ev;
  // Every continuation byte costs 0.5 nats for particle 0 and 1 nat for particle 1.
  ev.loglik = [](int64_t p, const std::string&, const std::string& cont) {
    return -(p == 0 ? 0.5 : 1.0) * static_cast<double>(cont.size());
  };
  ByteEncoder enc;
  // An explicit mapping must hold for every record; the default lookup takes "continuation" or "text".
  const std::string m = message_of<Error>([&] {
    make({{"type", "likelihood"}, {"data", {{"path", "cc.jsonl"}, {"fields", {{"continuation", "continuation"}}}}}}, dir);
  });
  EXPECT_NE(m.find("cc.jsonl:2: missing field \"continuation\" (task.json: utility.data.fields.continuation)"),
            std::string::npos) << m;
  auto v = make({{"type", "likelihood"}, {"data", {{"path", "cc.jsonl"}, {"shuffle", false}}}}, dir);
  const auto s = v->score(ev, enc, test::particles(2), Split::kDev);
  // Requests: "The cat" + " sat" (4 tokens), BOS + "ab" (2 tokens).
  ASSERT_EQ(ev.last_scoring.size(), 2u);
  EXPECT_EQ(ev.last_scoring[0].continuation.size(), 4u);
  EXPECT_EQ(ev.last_scoring[1].context, std::vector<int64_t>{ByteEncoder::kBos});
  EXPECT_EQ(ev.last_scoring[1].continuation.size(), 2u);
  EXPECT_DOUBLE_EQ(s.utility[0], -0.5);
  EXPECT_DOUBLE_EQ(s.utility[1], -1.0);
  EXPECT_DOUBLE_EQ(s.metrics.at("neg_perplexity")[1], -std::exp(1.0));
  auto ppl = make({{"type", "likelihood"}, {"metric", "neg_perplexity"}, {"data", {{"path", "cc.jsonl"}}}}, dir);
  EXPECT_DOUBLE_EQ(ppl->score(ev, enc, test::particles(1), Split::kDev).utility[0], -std::exp(0.5));
}

// ---- composite ----

fs::path write_two_tasks(const fs::path& dir) {
  write_mc(dir);
  write_qa(dir);
  return dir;
}

TEST(UtilityComposite, WeightedHarmonicAndMinByHand) {
  const fs::path dir = write_two_tasks(test::temp_dir("comp"));
  ScriptedEvaluator ev;
  // multiple_choice: particle 0 gets 1/3 (see above), particle 1 gets 2/3.
  const std::map<std::string, double> p0 = {{" a", -1.0}, {" bbbb", -2.0}, {" cc", -1.0}, {" d", -0.8}, {" e", -0.1}, {" ff", -3.0}};
  ev.loglik = [&](int64_t p, const std::string&, const std::string& cont) { return p == 0 ? p0.at(cont) : -1.0; };
  // generation exact_match: particle 0 answers "Paris" everywhere (1/4), particle 1 nothing right (0).
  ev.generator = [](int64_t p, const std::string&) { return std::string(p == 0 ? "Paris" : "?"); };
  ByteEncoder enc;
  const json mc = {{"type", "multiple_choice"}, {"data", kMcData}};
  const json gen = {{"type", "generation"}, {"data", {{"path", "qa.jsonl"}}}};
  auto weighted = make({{"type", "composite"}, {"components", {mc, gen}}, {"weights", {3, 1}}}, dir);
  auto s = weighted->score(ev, enc, test::particles(2), Split::kDev);
  EXPECT_DOUBLE_EQ(s.utility[0], (3 * (1.0 / 3) + 0.25) / 4);
  EXPECT_DOUBLE_EQ(s.utility[1], (3 * (2.0 / 3) + 0.0) / 4);
  EXPECT_DOUBLE_EQ(s.metrics.at("0.multiple_choice.acc")[1], 2.0 / 3);
  auto harmonic = make({{"type", "composite"}, {"combine", "harmonic_mean"}, {"components", {mc, gen}}}, dir);
  s = harmonic->score(ev, enc, test::particles(2), Split::kDev);
  EXPECT_DOUBLE_EQ(s.utility[0], 2.0 / (3.0 + 4.0));
  EXPECT_DOUBLE_EQ(s.utility[1], 0.0);  // one component at 0
  auto low = make({{"type", "composite"}, {"combine", "min"}, {"components", {mc, gen}}}, dir);
  EXPECT_EQ(low->score(ev, enc, test::particles(2), Split::kDev).utility, (std::vector<double>{0.25, 0.0}));
  EXPECT_EQ(low->info().dev_examples, 7);
}

TEST(UtilityComposite, ConfigErrorsNameNestedKeys) {
  const fs::path dir = write_two_tasks(test::temp_dir("comp"));
  const json mc = {{"type", "multiple_choice"}, {"data", kMcData}};
  std::string m = message_of<ConfigError>([&] { make({{"type", "composite"}, {"components", {mc}}, {"weights", {1, 2}}}, dir); });
  EXPECT_NE(m.find("utility.weights: has 2 numbers for 1 components"), std::string::npos) << m;
  m = message_of<ConfigError>([&] { make({{"type", "composite"}, {"components", {mc, {{"type", "nope"}}}}}, dir); });
  EXPECT_NE(m.find("task.json: utility.components[1].type: unknown utility type \"nope\""), std::string::npos) << m;
  m = message_of<ConfigError>([&] { make({{"type", "composite"}, {"combine", "max"}, {"components", {mc}}}, dir); });
  EXPECT_NE(m.find("utility.combine: must be weighted_mean, harmonic_mean or min"), std::string::npos) << m;
  m = message_of<ConfigError>([&] { make({{"type", "composite"}, {"components", json::array()}}, dir); });
  EXPECT_NE(m.find("utility.components: needs at least one utility"), std::string::npos) << m;
}

// ---- chat templates ----

TEST(UtilityChatTemplate, NamedTemplatesMatchTheFamilies) {
  ByteEncoder enc;
  EXPECT_EQ(utility::ChatTemplate::parse("llama-3", "k").apply("Hi?", "", enc),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(utility::ChatTemplate::parse("llama-3", "k").apply("Hi?", "Be brief.", enc),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(utility::ChatTemplate::parse("gemma", "k").apply("Hi?", "", enc),
            "<bos><start_of_turn>user\nHi?<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(utility::ChatTemplate::parse("qwen", "k").apply("Hi?", "", enc),
            "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(utility::ChatTemplate::parse("mistral", "k").apply("Hi?", "", enc), "<s>[INST] Hi? [/INST]");
  // Braces in the prompt are text, not placeholders.
  EXPECT_EQ(utility::ChatTemplate::parse("{bos}U: {prompt}\nA:", "k").apply("{x} {prompt}", "", enc),
            "<s>U: {x} {prompt}\nA:");
}

TEST(UtilityChatTemplate, UnknownNameIsAConfigError) {
  const std::string m = message_of<ConfigError>([] { utility::ChatTemplate::parse("llama3", "task.json: utility.chat_template"); });
  EXPECT_NE(m.find("task.json: utility.chat_template: \"llama3\" is neither a known chat template (chatml, gemma, llama-3"),
            std::string::npos)
      << m;
}

TEST(UtilityChatTemplate, AppliedToPromptsWithoutAddingBosTwice) {
  const fs::path dir = test::temp_dir("mc");
  write_mc(dir);
  ScriptedEvaluator ev;
  ByteEncoder enc;
  auto u = make({{"type", "multiple_choice"}, {"data", kMcData}, {"chat_template", "{bos}[U]{prompt}[A]"}}, dir);
  u->score(ev, enc, test::particles(1), Split::kDev);
  // The template spells BOS as text; the encoder adds no BOS id of its own.
  EXPECT_EQ(ByteEncoder::decode(ev.last_scoring[0].context), "<s>[U]Q1:[A]");
  EXPECT_EQ(ev.last_scoring[0].context.front(), '<' + 3);
  const std::string m = message_of<ConfigError>([&] { make({{"type", "multiple_choice"}, {"data", kMcData}, {"system_prompt", "x"}}, dir); });
  EXPECT_NE(m.find("utility.system_prompt: needs a chat_template"), std::string::npos) << m;
}

}  // namespace
}  // namespace modelswarm

namespace modelswarm {
namespace {

TEST(UtilityExamples, EveryExampleConfigBuildsItsUtility) {
  MS_REQUIRE_SHARED();
  const fs::path dir = test::source_dir() / "configs" / "examples";
  std::set<std::string> types;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    const TaskConfig config = TaskConfig::load(entry.path());
    json utility_config = config.utility;
    if (utility_config.value("type", "") == "reward_model") {
      // The example's reward model is made by scripts/demo.sh; any reward model checkpoint will do here.
      const fs::path reward = test::cached_oracle("reward", "reward_oracle.py", {});
      ASSERT_FALSE(reward.empty());
      utility_config["reward_model"] = (reward / "llama" / "model").string();
    }
    auto u = utility::make_utility(utility_config, config.source.string(), utility::UtilityContext{dir, nullptr});
    const auto info = u->info();
    EXPECT_EQ(info.type, entry.path().stem().string()) << "one example per utility type, named after it";
    EXPECT_GT(info.dev_examples, 0);
    EXPECT_GT(info.test_examples, 0);
    types.insert(info.type);
  }
  for (const auto& name : utility::known_utilities())
    if (name.rfind("test_", 0) != 0) EXPECT_TRUE(types.count(name)) << "no example config for " << name;
}

}  // namespace
}  // namespace modelswarm

namespace modelswarm {
namespace {

TEST(UtilityJudge, RatingsByASecondModelWithParseFailuresAtTheMinimum) {
  const fs::path dir = test::temp_dir("judge");
  write_text_atomic(dir / "asks.jsonl", "{\"prompt\": \"story\", \"topic\": \"cats\"}\n{\"prompt\": \"poem\", \"topic\": \"dogs\"}\n");
  // Particle 0 writes "great" then "meh"; particle 1 "huge" then "bad".
  ScriptedEvaluator ev;
  ev.generator = [](int64_t p, const std::string& prompt) -> std::string {
    const bool story = prompt.find("story") != std::string::npos;
    return p == 0 ? (story ? "great" : "meh") : (story ? "huge" : "bad");
  };
  ScriptedEvaluator* judge = nullptr;
  int loads = 0;
  utility::UtilityContext context{dir, [&](const fs::path& path) {
                                    ++loads;
                                    EXPECT_EQ(path, dir / "judge-model");
                                    auto e = std::make_unique<ScriptedEvaluator>();
                                    judge = e.get();
                                    e->generator = [](int64_t p, const std::string& prompt) -> std::string {
                                      EXPECT_EQ(p, -1) << "the judge runs as a base model";
                                      if (prompt.find("[great]") != std::string::npos) return "Nice. Rating: 9/10";
                                      if (prompt.find("[meh]") != std::string::npos) return "Rating: 4.5 / 10";
                                      if (prompt.find("[huge]") != std::string::npos) return "Rating: 12/10";
                                      return "I cannot rate this.";
                                    };
                                    return utility::LoadedModel{std::move(e), std::make_unique<ByteEncoder>()};
                                  }};
  const json config = {{"type", "judge"},
                       {"data", {{"path", "asks.jsonl"}, {"shuffle", false}}},
                       {"judge", {{"model", "judge-model"}, {"prompt_template", "Rate {topic} {prompt}: [{output}]"}}}};
  auto u = utility::make_utility(config, "task.json", context);
  EXPECT_EQ(loads, 0) << "the judge loads on first use, not while the config is checked";
  ByteEncoder enc;
  const auto s = u->score(ev, enc, test::particles(2), Split::kDev);
  EXPECT_DOUBLE_EQ(s.utility[0], (9 + 4.5) / 2);
  EXPECT_DOUBLE_EQ(s.utility[1], (10 + 1) / 2.0);  // 12 clamps to 10; no rating = 1
  EXPECT_EQ(judge->generate_calls, 1) << "all particles' outputs in one judge pass";
  u->score(ev, enc, test::particles(2), Split::kDev);
  EXPECT_EQ(loads, 1);
  const std::string m = message_of<ConfigError>([&] {
    utility::make_utility({{"type", "judge"}, {"data", {{"path", "asks.jsonl"}}},
                           {"judge", {{"model", "j"}, {"prompt_template", "{reply}"}}}},
                          "task.json", context);
  });
  EXPECT_NE(m.find("task.json: utility.judge.prompt_template: names {reply}"), std::string::npos) << m;
}

}  // namespace
}  // namespace modelswarm
