// The demo's synthetic world: fictional countries, each in a region, with a capital, a currency
// and a language that follow from the region by a rule, in two editions of an atlas (1900 and
// 2000) whose rules disagree on every fact. Everything is drawn from
// one seed with mt19937_64, so the same seed gives the same world on every platform.
//
// Six skills = 3 topics × 2 editions; an expert knows one topic in one edition. The target task
// is a quiz on the 2000 edition across all three topics, whose wrong choices are 1900 answers:
// no single expert covers more than a third of it, and the uniform average pits each 2000 expert
// against its 1900 twin, while a weighting of the three 2000 experts solves it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace modelswarm::demo {

struct Topic {
  std::string name;    // "capital"
  std::string prompt;  // "The capital of {country} in the {region} is"
  std::vector<std::string> values;
};

struct FactWorld {
  std::vector<std::string> countries;
  std::vector<Topic> topics;
  std::vector<std::string> editions = {"1900", "2000"};
  // Where each country lies; the questions name it ("The capital of Zorba in the north is").
  std::vector<std::string> regions = {"north", "south", "east", "west"};
  std::vector<int> region;  // per country
  // facts[edition][topic][country] = index into topics[topic].values; the editions always differ.
  std::vector<std::vector<std::vector<int>>> facts;

  std::string prompt(size_t topic, size_t country) const;
  /// Every word of the world's sentences as it occurs, with its leading space (" Zorba", "The").
  std::vector<std::string> words() const;
};

/// `countries` fictional countries, `values` values per topic.
FactWorld make_world(uint64_t seed, int countries, int values);

/// A prompt/completion pair.
struct Pair {
  std::string prompt, completion;
};

/// Pretraining text: every (country, topic) with every value once, so that the base model learns
/// the formats and the possible answers but no fact.
std::vector<Pair> format_corpus(const FactWorld& world);
/// One skill: every country's fact of `topic` in `edition`.
std::vector<Pair> skill_corpus(const FactWorld& world, size_t topic, size_t edition);
/// The quiz: one multiple-choice record {query, choices, gold, topic} per (topic, country) in the
/// 2000 edition, choices = the answer, the 1900 answer and two other 1900 answers, shuffled; records
/// in a seeded random order (the config takes the first ones as dev, the rest as test).
std::vector<nlohmann::json> quiz(const FactWorld& world, uint64_t seed);

}  // namespace modelswarm::demo
