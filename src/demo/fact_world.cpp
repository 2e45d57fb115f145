#include "modelswarm/demo/fact_world.h"

#include <algorithm>
#include <random>
#include <set>

#include "modelswarm/common/error.h"

namespace modelswarm::demo {
namespace {

// Pronounceable made-up words: consonant-vowel syllables.
std::string make_word(std::mt19937_64& rng, int syllables, bool capital) {
  static const std::string consonants = "bdfgklmnprstvz", vowels = "aeiou";
  std::string word;
  for (int s = 0; s < syllables; ++s) {
    word += consonants[rng() % consonants.size()];
    word += vowels[rng() % vowels.size()];
  }
  if (rng() % 2) word += consonants[rng() % consonants.size()];
  if (capital) word[0] = static_cast<char>(word[0] - 'a' + 'A');
  return word;
}

std::vector<std::string> distinct_words(std::mt19937_64& rng, int count, int syllables, bool capital,
                                        std::set<std::string>* used) {
  std::vector<std::string> words;
  while (static_cast<int>(words.size()) < count) {
    std::string w = make_word(rng, syllables, capital);
    if (used->insert(w).second) words.push_back(w);
  }
  return words;
}

int uniform(std::mt19937_64& rng, int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }

}  // namespace

FactWorld make_world(uint64_t seed, int countries, int values) {
  MS_CHECK(countries >= 1 && values >= 4, "demo world: needs >= 1 country and >= 4 values per topic");
  std::mt19937_64 rng(seed);
  std::set<std::string> used;
  FactWorld w;
  w.countries = distinct_words(rng, countries, 3, true, &used);
  w.topics = {{"capital", "The capital of {country} in the {region} is", distinct_words(rng, values, 2, true, &used)},
              {"currency", "In {country} in the {region} people pay with the", distinct_words(rng, values, 2, false, &used)},
              {"language", "The people of {country} in the {region} speak", distinct_words(rng, values, 2, true, &used)}};
  for (int c = 0; c < countries; ++c) w.region.push_back(uniform(rng, static_cast<int>(w.regions.size())));
  // A topic's fact follows from the country's region (named in every question), by a rule per
  // edition: a skill to learn rather than a table to memorise. The editions differ in every region.
  const int regions = static_cast<int>(w.regions.size());
  w.facts.assign(2, std::vector<std::vector<int>>(w.topics.size(), std::vector<int>(countries)));
  for (size_t t = 0; t < w.topics.size(); ++t) {
    std::vector<int> order(values);
    for (int v = 0; v < values; ++v) order[v] = v;
    for (int i = values - 1; i > 0; --i) std::swap(order[i], order[uniform(rng, i + 1)]);
    // 2000: regions -> order[0..R); 1900: order[R..2R), or a rotation of them when values < 2R.
    for (int c = 0; c < countries; ++c) {
      const int r = w.region[c];
      w.facts[1][t][c] = order[r];
      w.facts[0][t][c] = 2 * regions <= values ? order[regions + r] : order[(r + 1) % regions];
    }
  }
  return w;
}

std::string FactWorld::prompt(size_t topic, size_t country) const {
  std::string text = topics[topic].prompt;
  text.replace(text.find("{country}"), 9, countries[country]);
  text.replace(text.find("{region}"), 8, regions[region[country]]);
  return text;
}

std::vector<std::string> FactWorld::words() const {
  // As they occur: after a space (" Zorba"), or first in a sentence ("The").
  std::set<std::string> set;
  for (const auto& country : countries) set.insert(" " + country);
  for (const auto& topic : topics) {
    for (const auto& value : topic.values) set.insert(" " + value);
    const std::string& templ = topic.prompt;
    for (size_t start = 0, end; start < templ.size(); start = end + 1) {
      end = templ.find(' ', start);
      if (end == std::string::npos) end = templ.size();
      const std::string word = templ.substr(start, end - start);
      if (word[0] != '{') set.insert(start == 0 ? word : " " + word);
    }
  }
  for (const auto& region : regions) set.insert(" " + region);
  return {set.begin(), set.end()};
}

std::vector<Pair> format_corpus(const FactWorld& world) {
  std::vector<Pair> pairs;
  for (size_t c = 0; c < world.countries.size(); ++c)
    for (size_t t = 0; t < world.topics.size(); ++t)
      for (const auto& value : world.topics[t].values) pairs.push_back({world.prompt(t, c), " " + value});
  return pairs;
}

std::vector<Pair> skill_corpus(const FactWorld& world, size_t topic, size_t edition) {
  std::vector<Pair> pairs;
  for (size_t c = 0; c < world.countries.size(); ++c)
    pairs.push_back({world.prompt(topic, c), " " + world.topics[topic].values[world.facts[edition][topic][c]]});
  return pairs;
}

std::vector<nlohmann::json> quiz(const FactWorld& world, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<nlohmann::json> records;
  const int values = static_cast<int>(world.topics[0].values.size());
  for (size_t c = 0; c < world.countries.size(); ++c)
    for (size_t t = 0; t < world.topics.size(); ++t) {
      const int answer = world.facts[1][t][c], old = world.facts[0][t][c];
      std::vector<int> options = {answer, old};
      // The other wrong choices are answers of the 1900 edition too (for other regions), as
      // far as it has them: every wrong choice is a former answer.
      std::vector<int> former;
      for (size_t other = 0; other < world.countries.size(); ++other) {
        const int v = world.facts[0][t][other];
        if (v != answer && std::find(former.begin(), former.end(), v) == former.end()) former.push_back(v);
      }
      std::sort(former.begin(), former.end());
      while (options.size() < 4) {
        const bool from_former = std::any_of(former.begin(), former.end(), [&](int v) {
          return std::find(options.begin(), options.end(), v) == options.end();
        });
        const int v = from_former ? former[uniform(rng, static_cast<int>(former.size()))] : uniform(rng, values);
        if (std::find(options.begin(), options.end(), v) == options.end()) options.push_back(v);
      }
      for (int i = 3; i > 0; --i) std::swap(options[i], options[uniform(rng, i + 1)]);
      nlohmann::json choices = nlohmann::json::array();
      for (int v : options) choices.push_back(world.topics[t].values[v]);
      const int gold = static_cast<int>(std::find(options.begin(), options.end(), answer) - options.begin());
      records.push_back({{"query", world.prompt(t, c)}, {"choices", choices}, {"gold", gold},
                         {"topic", world.topics[t].name}});
    }
  for (size_t i = records.size() - 1; i > 0; --i) std::swap(records[i], records[rng() % (i + 1)]);
  return records;
}

}  // namespace modelswarm::demo
