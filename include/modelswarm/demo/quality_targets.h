// The target tasks of the search-quality suite (scripts/quality.sh, docs/QUALITY.md): multiple-choice
// quizzes over the demo's FactWorld, the world the committed demo's six experts (capital, currency,
// language × 1900, 2000) were trained on. Each target asks some topics, each in one edition, so a
// target needs a known mix of experts; the negative control asks for answers no expert knows.
//
// Records are in demo/data/quiz.jsonl's format, {query, choices, gold, topic}, in a seeded random
// order; `build/make_demo --quality-targets DIR` writes one DIR/<name>.jsonl per target.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "modelswarm/demo/fact_world.h"
#include "modelswarm/demo/make_demo.h"

namespace modelswarm::demo {

/// One topic asked in one edition: the skill of expert "<topic>-<edition>".
struct Skill {
  size_t topic = 0;    // index into FactWorld::topics
  size_t edition = 0;  // index into FactWorld::editions (0: 1900, 1: 2000)
};

struct QualityTarget {
  std::string name;           // "capital-currency-2000"; the file is <name>.jsonl
  std::vector<Skill> skills;  // one question per (skill, country); empty for the control
  bool control = false;       // the negative control: every topic, answers no edition gives
  uint64_t seed_offset = 0;   // the target's records are drawn with DemoOptions::seed + seed_offset
  std::string description;    // one line, for docs and logs
};

/// The suite's targets: capital-currency-2000, currency-language-2000, capital-1900-language-2000,
/// all-2000 (seed offset 1: the same records, in the same order, as demo/data/quiz.jsonl) and control.
std::vector<QualityTarget> quality_targets();

/// One multiple-choice record per (country, skill), countries outer: the question on `skill.topic`,
/// gold = the answer of `skill.edition`, distractors as in quiz(): the other edition's answer for
/// that country and two more of the other edition's answers, shuffled; records in a seeded random
/// order. With the three topics in 2000 this is exactly quiz(world, seed).
std::vector<nlohmann::json> skill_quiz(const FactWorld& world, const std::vector<Skill>& skills, uint64_t seed);

/// The negative control: one record per (country, topic), countries outer, whose four choices are
/// drawn at random from the values that are neither the 1900 nor the 2000 answer for that country
/// (values − 2 candidates; needs ≥ 6 values per topic), gold at a random position among them. No
/// expert's knowledge tells the gold apart, so every weighting scores chance (25 %) on held-out data.
std::vector<nlohmann::json> control_quiz(const FactWorld& world, uint64_t seed);

/// The records of `target` for the world of `options` (make_world(seed, countries, values)).
std::vector<nlohmann::json> target_records(const FactWorld& world, const QualityTarget& target,
                                           const DemoOptions& options);

/// Writes DIR/<name>.jsonl for every target (atomically, one JSON object per line) and returns
/// the paths written. No model is built or trained: it takes well under a second.
std::vector<std::filesystem::path> write_quality_targets(const std::filesystem::path& dir, const DemoOptions& options);

}  // namespace modelswarm::demo
