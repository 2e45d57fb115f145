// The search-quality suite's targets (make_demo --quality-targets): deterministic files from the
// committed demo's world (its quiz comes out byte for byte), every fact as the world has it, and a
// negative control that never offers an answer of either edition.
#include <map>
#include <set>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/demo/fact_world.h"
#include "modelswarm/demo/quality_targets.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::vector<json> read_jsonl(const fs::path& path) {
  std::vector<json> records;
  std::istringstream lines(read_file(path));
  for (std::string line; std::getline(lines, line);) records.push_back(json::parse(line));
  return records;
}

// (topic, country) of each question text of the world.
std::map<std::string, std::pair<size_t, size_t>> questions_of(const demo::FactWorld& world) {
  std::map<std::string, std::pair<size_t, size_t>> questions;
  for (size_t t = 0; t < world.topics.size(); ++t)
    for (size_t c = 0; c < world.countries.size(); ++c) questions[world.prompt(t, c)] = {t, c};
  return questions;
}

TEST(QualityTargets, FilesAreDeterministicAndTheAll2000TargetIsTheCommittedQuiz) {
  const demo::DemoOptions options;  // the committed demo's: seed 1, 200 countries, 8 values
  const fs::path a = test::temp_dir("quality-a"), b = test::temp_dir("quality-b");
  const auto written = demo::write_quality_targets(a, options);
  demo::write_quality_targets(b, options);
  ASSERT_EQ(written.size(), demo::quality_targets().size());
  std::set<std::string> names;
  for (const auto& path : written) {
    names.insert(path.stem().string());
    const std::string bytes = read_file(path);
    EXPECT_EQ(bytes, read_file(b / path.filename())) << path;
    EXPECT_GE(read_jsonl(path).size(), 400u) << path;
  }
  for (const char* name : {"capital-currency-2000", "currency-language-2000", "capital-1900-language-2000", "all-2000",
                           "control"})
    EXPECT_TRUE(names.count(name)) << name;
  // The world is the committed demo's: its quiz is reproduced byte for byte.
  EXPECT_EQ(read_file(a / "all-2000.jsonl"), read_file(test::source_dir() / "demo" / "data" / "quiz.jsonl"));
  // Targets differ in their order (each its own seed), not only in their questions.
  EXPECT_NE(read_jsonl(a / "capital-currency-2000.jsonl")[0]["query"],
            read_jsonl(a / "currency-language-2000.jsonl")[0]["query"]);
}

TEST(QualityTargets, SkillQuizOfTheThree2000TopicsIsQuiz) {
  const auto world = demo::make_world(5, 12, 8);
  EXPECT_EQ(demo::skill_quiz(world, {{0, 1}, {1, 1}, {2, 1}}, 9), demo::quiz(world, 9));
}

TEST(QualityTargets, FactsMatchTheWorldAndTheTwinExpertsAnswerIsAlwaysAWrongChoice) {
  const demo::DemoOptions options;
  const auto world = demo::make_world(options.seed, options.countries, options.values);
  const auto questions = questions_of(world);
  for (const auto& target : demo::quality_targets()) {
    if (target.control) continue;
    const auto records = demo::target_records(world, target, options);
    ASSERT_EQ(records.size(), world.countries.size() * target.skills.size()) << target.name;
    std::map<size_t, size_t> edition_of;  // topic -> the edition the target asks it in
    for (const auto& s : target.skills) edition_of[s.topic] = s.edition;
    std::set<std::pair<size_t, size_t>> asked;
    for (const auto& r : records) {
      ASSERT_TRUE(questions.count(r["query"].get<std::string>())) << r.dump();
      const auto [t, c] = questions.at(r["query"].get<std::string>());
      ASSERT_TRUE(edition_of.count(t)) << target.name << " asks an unexpected topic: " << r.dump();
      EXPECT_EQ(r["topic"], world.topics[t].name);
      asked.insert({t, c});
      const size_t e = edition_of[t];
      const auto& values = world.topics[t].values;
      const auto choices = r["choices"].get<std::vector<std::string>>();
      ASSERT_EQ(choices.size(), 4u);
      EXPECT_EQ(std::set<std::string>(choices.begin(), choices.end()).size(), 4u) << r.dump();
      const int gold = r["gold"];
      EXPECT_EQ(choices.at(gold), values[world.facts[e][t][c]]) << target.name << ": " << r.dump();
      // Every distractor is an answer of the other edition, its answer for this country included.
      std::set<std::string> other_edition;
      for (size_t o = 0; o < world.countries.size(); ++o) other_edition.insert(values[world.facts[1 - e][t][o]]);
      for (int i = 0; i < 4; ++i) {
        if (i != gold) {
          EXPECT_TRUE(other_edition.count(choices[i])) << target.name << ": " << r.dump();
        }
      }
      EXPECT_NE(std::find(choices.begin(), choices.end(), values[world.facts[1 - e][t][c]]), choices.end())
          << target.name << ": " << r.dump();
    }
    EXPECT_EQ(asked.size(), records.size()) << target.name << ": a question is asked twice";
  }
}

TEST(QualityTargets, ControlNeverOffersAnAnswerOfEitherEdition) {
  const demo::DemoOptions options;
  const auto world = demo::make_world(options.seed, options.countries, options.values);
  const auto questions = questions_of(world);
  const auto targets = demo::quality_targets();
  const auto control = std::find_if(targets.begin(), targets.end(), [](const auto& t) { return t.control; });
  ASSERT_NE(control, targets.end());
  const auto records = demo::target_records(world, *control, options);
  ASSERT_EQ(records.size(), world.countries.size() * world.topics.size());
  std::map<int, int> gold_positions;
  std::map<std::string, int> gold_values;
  for (const auto& r : records) {
    const auto [t, c] = questions.at(r["query"].get<std::string>());
    const auto& values = world.topics[t].values;
    const auto choices = r["choices"].get<std::vector<std::string>>();
    ASSERT_EQ(choices.size(), 4u);
    EXPECT_EQ(std::set<std::string>(choices.begin(), choices.end()).size(), 4u) << r.dump();
    for (const auto& choice : choices) {
      EXPECT_NE(choice, values[world.facts[0][t][c]]) << "a 1900 answer is offered: " << r.dump();
      EXPECT_NE(choice, values[world.facts[1][t][c]]) << "a 2000 answer is offered: " << r.dump();
    }
    ++gold_positions[r["gold"].get<int>()];
    ++gold_values[r["topic"].get<std::string>() + "/" + choices.at(r["gold"].get<int>())];
  }
  // Gold at every position about equally often (600 records: 150 expected each), and drawn from
  // every value of every topic.
  ASSERT_EQ(gold_positions.size(), 4u);
  for (const auto& [position, count] : gold_positions) EXPECT_NEAR(count, 150, 45) << "position " << position;
  EXPECT_EQ(gold_values.size(), world.topics.size() * static_cast<size_t>(options.values));
}

}  // namespace
}  // namespace modelswarm
