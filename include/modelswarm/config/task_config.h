// The task config of `modelswarm search` / `modelswarm eval` (schema: configs/README.md).
// Relative paths are resolved against the config file's directory.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "modelswarm/swarm/algorithm.h"

namespace modelswarm {

enum class SearchSpace { kParameters, kCoefficients };

/// The merge baselines every search scores beside the experts and their uniform average
/// (`baselines` in the config; lora/merge.h defines the methods).
struct BaselineOptions {
  std::vector<std::string> merges = {"task_arithmetic", "ties", "dare_ties"};
  double density = 0.5;  // ties and dare_ties
  uint64_t seed = 0;     // dare_ties' drop mask
};

struct TaskConfig {
  std::filesystem::path source;                 // the config file
  std::filesystem::path base_model;             // Hugging Face model directory
  std::vector<std::filesystem::path> experts;   // PEFT adapter directories
  std::string device = "auto";                  // the first of `devices`
  std::vector<std::string> devices = {"auto"};  // `device` as given: one name, or a list (a replica per device)
  std::string dtype = "auto";
  nlohmann::json utility;                       // validated by the utility registry
  std::shared_ptr<const swarm::Algorithm> algorithm;  // `search`: the algorithm and its options
  SearchSpace space = SearchSpace::kParameters;
  bool include_uniform_average = true;          // the experts' uniform average joins the initial swarm
  BaselineOptions baselines;
  int64_t top_k = 3;                            // personal bests written to top_k/
  std::filesystem::path output_dir;
  int64_t max_batch_tokens = 8192;              // tokens per forward pass (all particles' rows)
  int64_t rank_timeout_s = 300;                 // distributed runs: how long a rank waits for the others
  nlohmann::json sweep;                         // `sweep` as given (null when absent): read by search/sweep_plan.h
  nlohmann::json raw;                           // the file as read, for the report

  /// Reads and validates; throws ConfigError naming the file and key path.
  static TaskConfig load(const std::filesystem::path& path);
  static TaskConfig parse(const nlohmann::json& json, const std::filesystem::path& source);
};

}  // namespace modelswarm
