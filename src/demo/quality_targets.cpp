#include "modelswarm/demo/quality_targets.h"

#include <algorithm>
#include <random>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"

namespace modelswarm::demo {
namespace fs = std::filesystem;
namespace {

// make_world's topic and edition order.
constexpr size_t kCapital = 0, kCurrency = 1, kLanguage = 2;
constexpr size_t k1900 = 0, k2000 = 1;

// The same draw as fact_world.cpp's, so that skill_quiz consumes the generator exactly as quiz().
int uniform(std::mt19937_64& rng, int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

nlohmann::json record(const FactWorld& world, size_t topic, size_t country, const std::vector<int>& options, int gold) {
  nlohmann::json choices = nlohmann::json::array();
  for (int v : options) choices.push_back(world.topics[topic].values[v]);
  return {{"query", world.prompt(topic, country)}, {"choices", choices}, {"gold", gold},
          {"topic", world.topics[topic].name}};
}

// The records in a seeded random order (Fisher-Yates, as quiz()).
void shuffle_records(std::vector<nlohmann::json>* records, std::mt19937_64& rng) {
  for (size_t i = records->size() - 1; i > 0; --i) std::swap((*records)[i], (*records)[rng() % (i + 1)]);
}

}  // namespace

std::vector<QualityTarget> quality_targets() {
  return {
      {"capital-currency-2000", {{kCapital, k2000}, {kCurrency, k2000}}, false, 11,
       "capital and currency in the 2000 edition: two 2000 experts mixed"},
      {"currency-language-2000", {{kCurrency, k2000}, {kLanguage, k2000}}, false, 12,
       "currency and language in the 2000 edition: two 2000 experts mixed"},
      {"capital-1900-language-2000", {{kCapital, k1900}, {kLanguage, k2000}}, false, 13,
       "capital in the 1900 edition and language in the 2000 edition: a mix across editions"},
      {"all-2000", {{kCapital, k2000}, {kCurrency, k2000}, {kLanguage, k2000}}, false, 1,
       "the three topics in the 2000 edition: the demo quiz (demo/data/quiz.jsonl)"},
      {"control", {}, true, 14,
       "negative control: gold and distractors are answers of neither edition, chance is 25 %"},
  };
}

std::vector<nlohmann::json> skill_quiz(const FactWorld& world, const std::vector<Skill>& skills, uint64_t seed) {
  MS_CHECK(!skills.empty(), "skill_quiz: no skills");
  for (const Skill& s : skills)
    MS_CHECK(s.topic < world.topics.size() && s.edition < world.editions.size(), "skill_quiz: skill (topic ", s.topic,
             ", edition ", s.edition, ") is not in the world");
  std::mt19937_64 rng(seed);
  std::vector<nlohmann::json> records;
  for (size_t c = 0; c < world.countries.size(); ++c)
    for (const Skill& s : skills) {
      const size_t t = s.topic, other_edition = 1 - s.edition;
      const int values = static_cast<int>(world.topics[t].values.size());
      const int answer = world.facts[s.edition][t][c], twin = world.facts[other_edition][t][c];
      std::vector<int> options = {answer, twin};
      // The other wrong choices are the other edition's answers (for other regions) as far as it
      // has them, so that the twin expert, which knows the other edition, is wrong on every one.
      std::vector<int> other_answers;
      for (size_t o = 0; o < world.countries.size(); ++o) {
        const int v = world.facts[other_edition][t][o];
        if (v != answer && !contains(other_answers, v)) other_answers.push_back(v);
      }
      std::sort(other_answers.begin(), other_answers.end());
      while (options.size() < 4) {
        const bool from_other = std::any_of(other_answers.begin(), other_answers.end(),
                                            [&](int v) { return !contains(options, v); });
        const int v = from_other ? other_answers[uniform(rng, static_cast<int>(other_answers.size()))] : uniform(rng, values);
        if (!contains(options, v)) options.push_back(v);
      }
      for (int i = 3; i > 0; --i) std::swap(options[i], options[uniform(rng, i + 1)]);
      const int gold = static_cast<int>(std::find(options.begin(), options.end(), answer) - options.begin());
      records.push_back(record(world, t, c, options, gold));
    }
  shuffle_records(&records, rng);
  return records;
}

std::vector<nlohmann::json> control_quiz(const FactWorld& world, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<nlohmann::json> records;
  for (size_t c = 0; c < world.countries.size(); ++c)
    for (size_t t = 0; t < world.topics.size(); ++t) {
      const int values = static_cast<int>(world.topics[t].values.size());
      std::vector<int> candidates;  // neither edition's answer for this country, ascending
      for (int v = 0; v < values; ++v)
        if (v != world.facts[k1900][t][c] && v != world.facts[k2000][t][c]) candidates.push_back(v);
      MS_CHECK(candidates.size() >= 4, "control_quiz: needs >= 6 values per topic, the world has ", values);
      // Four of them at random (a partial Fisher-Yates: a uniform random ordered 4-subset), the
      // gold at a random position: which choice is gold is independent of every fact.
      for (int i = 0; i < 4; ++i)
        std::swap(candidates[i], candidates[i + uniform(rng, static_cast<int>(candidates.size()) - i)]);
      const std::vector<int> options(candidates.begin(), candidates.begin() + 4);
      records.push_back(record(world, t, c, options, uniform(rng, 4)));
    }
  shuffle_records(&records, rng);
  return records;
}

std::vector<nlohmann::json> target_records(const FactWorld& world, const QualityTarget& target,
                                           const DemoOptions& options) {
  const uint64_t seed = options.seed + target.seed_offset;
  return target.control ? control_quiz(world, seed) : skill_quiz(world, target.skills, seed);
}

std::vector<fs::path> write_quality_targets(const fs::path& dir, const DemoOptions& options) {
  const FactWorld world = make_world(options.seed, options.countries, options.values);
  fs::create_directories(dir);
  std::vector<fs::path> written;
  for (const QualityTarget& target : quality_targets()) {
    const std::vector<nlohmann::json> records = target_records(world, target, options);
    const fs::path path = dir / (target.name + ".jsonl");
    write_file_atomic(path, [&](std::ostream& out) {
      for (const auto& r : records) out << r.dump() << "\n";
    });
    written.push_back(path);
  }
  return written;
}

}  // namespace modelswarm::demo
