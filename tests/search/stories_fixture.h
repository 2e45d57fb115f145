// The real stories260K model converted to a Hugging Face directory, with five stand-in LoRA
// experts made by PEFT (tests/python/stories_experts.py), built once and shared by every test
// process (build/oracle-cache), and a task config for a short search on them.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

namespace modelswarm::test {

struct StoriesPool {
  std::filesystem::path model;                 // config.json, model.safetensors, tokenizer.json
  std::vector<std::filesystem::path> experts;  // expert0..expert4, ranks 2, 3, 4, 2, 3
};

/// Empty paths (and a test failure) when conversion or the oracle failed. Needs ../shared:
/// call MS_REQUIRE_SHARED() first.
const StoriesPool& stories_pool();

/// A multiple-choice search task on the pool, output in DIR/run, merged with `overrides`
/// (RFC 7386 merge patch), written to DIR/task.json; returns that path.
std::filesystem::path write_stories_task(const std::filesystem::path& dir,
                                         const nlohmann::json& overrides = nlohmann::json::object());

}  // namespace modelswarm::test
