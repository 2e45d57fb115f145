// The trials of `modelswarm sweep`: which `search` keys vary and how, and each trial's whole
// `search` object, read from a task config's `sweep` section (schema: configs/README.md).
//
//   "sweep": {
//     "vary": {"inertia": [0.2, 0.4, 0.6],                          a choice: grid or random
//              "step_length": {"min": 0.01, "max": 1, "log": true}, a range: random only
//              "swarm_size": {"min": 10, "max": 30, "integer": true},
//              "algorithm": ["model_swarms", "cma_es"]},
//     "mode": "grid" | "random",   default: grid when every key is a choice and `trials` is unset
//     "trials": 16,                random mode: how many configurations
//     "include_base": false,       configuration 0 is the config's own `search` section
//     "replicates": 1,             runs of each configuration, search.seed, seed + 1, ...
//     "seed": 0,                   the random mode's draws (each trial keeps search.seed unless varied)
//     "max_evaluations": 0,        rows the engine may score in all (0: no limit)
//     "early_stopping": {"after": 5, "every": 5, "keep": 0.5},   successive halving
//     "selection": "auto" | "validation" | "dev"
//   }
//
// A configuration is one set of values for the varied keys; each runs `replicates` times (its
// trials), with search seeds search.seed, search.seed + 1, ...: every configuration sees the same
// seeds (common random numbers: configurations differ by their options, not by the luck of their
// draws), and configurations are ranked by the mean over their replicates. When `algorithm` varies, each trial takes the keys
// its own algorithm reads, from `search` and from `vary`, and leaves the others out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modelswarm/config/task_config.h"

namespace modelswarm::search {

struct VariedKey {
  std::string key;                    // a `search` key
  std::vector<nlohmann::json> choices;  // a choice: its values
  bool is_range = false;              // a range: [min, max]
  double min = 0, max = 0;
  bool log = false;                   // drawn log-uniformly
  bool integer = false;               // whole numbers only
};

/// Successive halving: after `after` iterations, and every `every` iterations after that, the
/// configurations still running whose mean best dev utility (over their replicates) is not among
/// the best `keep` fraction (rounded up, at least one) stop. after = 0: never.
struct EarlyStopping {
  int64_t after = 0;
  int64_t every = 5;
  double keep = 0.5;
  /// True when `iteration` (completed by every running trial) is a rung.
  bool is_rung(int64_t iteration) const;
};

struct Trial {
  int64_t id = 0;
  int64_t configuration = 0;  // trials of one configuration differ only by search.seed
  int64_t replicate = 0;
  nlohmann::json varied;  // key -> the value this trial took (keys its algorithm does not read: absent)
  nlohmann::json search;  // the trial's whole `search` object
};

enum class SweepSelection { kAuto, kValidation, kDev };

struct SweepPlan {
  std::vector<VariedKey> keys;
  std::string mode;  // "grid" | "random"
  uint64_t seed = 0;
  int64_t max_evaluations = 0;
  EarlyStopping early_stopping;
  SweepSelection selection = SweepSelection::kAuto;
  int64_t replicates = 1;
  bool include_base = false;
  std::vector<Trial> trials;  // configuration-major: trial = configuration × replicates + replicate
  nlohmann::json raw;  // the `sweep` section as given

  /// {"kind": "choice"|"range", "log": bool} per varied key (the HTML page's axes).
  nlohmann::json varied_summary() const;
};

/// Reads and checks config.sweep, then builds every trial's `search` object and checks it as
/// `search` would. Throws ConfigError naming `sweep.<key>` (or the trial and its key).
SweepPlan plan_sweep(const TaskConfig& config);

/// Trial `trial` as the task config `modelswarm search` would run: config's file with the trial's
/// `search`, without `sweep`, writing into `output_dir`.
TaskConfig trial_config(const TaskConfig& config, const Trial& trial, const std::filesystem::path& output_dir);

}  // namespace modelswarm::search
