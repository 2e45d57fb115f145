// The reward_model utility on a scripted evaluator and a scripted reward model: what the reward
// model reads, the normalisation to [0, 1] by the bounds, and the config errors. Only the
// directory check reads a real checkpoint (tests/python/reward_oracle.py).
#include <ATen/ATen.h>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/utility/utility.h"
#include "test_utils.h"
#include "utility/fakes.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using test::ByteEncoder;
using test::ScriptedEvaluator;
using test::ScriptedRewardModel;
using utility::Split;

fs::path reward_oracle() { return test::cached_oracle("reward", "reward_oracle.py", {}); }

// A data file of two prompts and a context whose reward model is scripted; `seen` collects the
// texts it scores and `loads` counts loads.
struct Fixture {
  fs::path dir = test::temp_dir("reward");
  std::vector<std::string> seen;
  int loads = 0;
  std::function<double(const std::string&)> reward;

  Fixture() {
    write_text_atomic(dir / "asks.jsonl",
                      "{\"prompt\": \"Tell\", \"topic\": \"cats\"}\n{\"prompt\": \"Sing\", \"topic\": \"dogs\"}\n");
  }
  utility::UtilityContext context() {
    return {dir, nullptr, [this](const fs::path& path) {
              ++loads;
              EXPECT_EQ(path, reward_oracle() / "llama" / "model");
              auto model = std::make_unique<ScriptedRewardModel>();
              model->reward = [this](const std::string& text) {
                seen.push_back(text);
                return reward(text);
              };
              return utility::LoadedRewardModel{std::move(model), std::make_unique<ByteEncoder>()};
            }};
  }
  json config(const json& overrides = json::object()) const {
    json c = {{"type", "reward_model"},
              {"reward_model", (reward_oracle() / "llama" / "model").string()},
              {"bounds", {-1.0, 3.0}},
              {"data", {{"path", "asks.jsonl"}, {"shuffle", false}}}};
    c.update(overrides);
    return c;
  }
};

template <typename F>
std::string config_error(F&& f) {
  return test::message_of<ConfigError>(std::forward<F>(f));
}

TEST(UtilityRewardModel, MeanRewardNormalisedByTheBoundsAndClamped) {
  ASSERT_FALSE(reward_oracle().empty());
  Fixture f;
  // Particle 0 answers " yes" then " no"; particle 1 " yes!!" then " yes".
  ScriptedEvaluator ev;
  ev.generator = [](int64_t p, const std::string& prompt) -> std::string {
    const bool tell = prompt.find("Tell") != std::string::npos;
    return p == 0 ? (tell ? " yes" : " no") : (tell ? " yes!!" : " yes");
  };
  // Reward: +1 per "yes", +3 per "!", -2 for "no".
  f.reward = [](const std::string& text) {
    double r = 0;
    for (size_t at = text.find("yes"); at != std::string::npos; at = text.find("yes", at + 1)) r += 1;
    for (char c : text) r += c == '!' ? 3 : 0;
    return text.find("no") != std::string::npos ? r - 2 : r;
  };
  auto u = utility::make_utility(f.config(), "task.json", f.context());
  EXPECT_EQ(f.loads, 0) << "the reward model loads on first use, not while the config is checked";
  ByteEncoder enc;
  const auto s = u->score(ev, enc, test::particles(2), Split::kDev);
  // Rewards (1, -2) and (7, 1) over bounds [-1, 3]: (2/4, 0 clamped) and (1 clamped, 2/4).
  ASSERT_EQ(s.utility.size(), 2u);
  EXPECT_DOUBLE_EQ(s.utility[0], (0.5 + 0.0) / 2);
  EXPECT_DOUBLE_EQ(s.utility[1], (1.0 + 0.5) / 2);
  EXPECT_DOUBLE_EQ(s.metrics.at("raw_reward")[0], (1.0 - 2.0) / 2);
  EXPECT_DOUBLE_EQ(s.metrics.at("raw_reward")[1], (7.0 + 1.0) / 2);
  // By default the reward model reads the prompt followed by the response, with its tokenizer's BOS.
  EXPECT_EQ(f.seen, (std::vector<std::string>{"<s>Tell yes", "<s>Sing no", "<s>Tell yes!!", "<s>Sing yes"}));
  u->score(ev, enc, test::particles(2), Split::kDev);
  EXPECT_EQ(f.loads, 1) << "loaded once per run";
  EXPECT_EQ(u->info().metric, "reward");
  EXPECT_EQ(u->info().dev_examples, 2);
}

TEST(UtilityRewardModel, PromptAndChatTemplatesShapeWhatTheRewardModelReads) {
  ASSERT_FALSE(reward_oracle().empty());
  Fixture f;
  f.reward = [](const std::string&) { return 0.0; };
  ScriptedEvaluator ev;
  ev.generator = [](int64_t, const std::string&) { return std::string(" ok"); };
  auto u = utility::make_utility(f.config({{"reward_prompt_template", "About {topic}: {prompt}"},
                                           {"reward_chat_template", "{bos}[U]{system}|{prompt}[A]"},
                                           {"reward_system_prompt", "be fair"}}),
                                 "task.json", f.context());
  ByteEncoder enc;
  u->score(ev, enc, at::Tensor(), Split::kDev);
  // The template writes BOS itself, so the tokenizer adds none.
  EXPECT_EQ(f.seen, (std::vector<std::string>{"<s>[U]be fair|About cats: Tell[A] ok", "<s>[U]be fair|About dogs: Sing[A] ok"}));
}

TEST(UtilityRewardModel, ConfigErrorsNameTheKey) {
  ASSERT_FALSE(reward_oracle().empty());
  Fixture f;
  auto make = [&](const json& config) { utility::make_utility(config, "task.json", f.context()); };
  json missing = f.config();
  missing.erase("reward_model");
  EXPECT_NE(config_error([&] { make(missing); }).find("task.json: utility.reward_model: is required but missing"),
            std::string::npos);
  const fs::path causal = reward_oracle() / "causal";
  std::string m = config_error([&] { make(f.config({{"reward_model", causal.string()}})); });
  EXPECT_NE(m.find("task.json: utility.reward_model: " + causal.string() + ": no score head (score.weight)"),
            std::string::npos)
      << m;
  m = config_error([&] { make(f.config({{"reward_model", "nowhere"}})); });
  EXPECT_NE(m.find("task.json: utility.reward_model: " + (f.dir / "nowhere" / "config.json").string() + ": cannot open"),
            std::string::npos)
      << m;
  m = config_error([&] { make(f.config({{"bounds", {2, 2}}})); });
  EXPECT_NE(m.find("task.json: utility.bounds: lo must be below hi, got [2, 2]"), std::string::npos) << m;
  m = config_error([&] { make(f.config({{"bounds", {0}}})); });
  EXPECT_NE(m.find("task.json: utility.bounds: expected [lo, hi], got 1 numbers"), std::string::npos) << m;
  json no_bounds = f.config();
  no_bounds.erase("bounds");
  EXPECT_NE(config_error([&] { make(no_bounds); }).find("utility.bounds: is required"), std::string::npos);
  m = config_error([&] { make(f.config({{"reward_prompt_template", "{question}"}})); });
  EXPECT_NE(m.find("utility.reward_prompt_template: names {question}"), std::string::npos) << m;
  m = config_error([&] { make(f.config({{"reward_system_prompt", "x"}})); });
  EXPECT_NE(m.find("utility.reward_system_prompt: needs a reward_chat_template"), std::string::npos) << m;
  EXPECT_EQ(f.loads, 0);
}

}  // namespace
}  // namespace modelswarm
