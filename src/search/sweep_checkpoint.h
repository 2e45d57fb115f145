// Private to src/search: the sweep's checkpoint, safe against kill -9 at any moment, like a
// search's (swarm/checkpoint.h), whose format each trial keeps.
//
//   checkpoint/sweep.json              the sweep's own state; names the directory below
//   checkpoint/iteration-K/trial-NN/   each trial's search checkpoint after sweep iteration K
//
// A save writes iteration-K.tmp/ completely (trials that did not move since the last save are
// hard links to its files), renames it to iteration-K/, replaces sweep.json atomically, then
// deletes the directories sweep.json no longer names. sweep.json always names a complete
// directory.
#pragma once

#include <c10/core/Device.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modelswarm/swarm/state.h"

namespace modelswarm::search {

struct SweepTrialState {
  swarm::State state;
  std::string status = "running";  // running | finished | pruned | budget
  bool moved = true;               // stepped since the last save (else its files are linked)
  nlohmann::json options;          // to_json(algorithm)
  nlohmann::json metadata;         // the search checkpoint's metadata (baselines' dev utilities)
};

struct SweepCheckpoint {
  int64_t iteration = 0;           // sweep iterations completed
  int64_t engine_evaluations = 0;  // rows the engine scored
  nlohmann::json trial_searches;   // [search objects], to refuse resuming another sweep
  std::vector<SweepTrialState> trials;
};

void save_sweep_checkpoint(const std::filesystem::path& directory, const SweepCheckpoint& checkpoint);
bool sweep_checkpoint_exists(const std::filesystem::path& directory);
/// Throws Error naming the file on anything missing or malformed.
SweepCheckpoint load_sweep_checkpoint(const std::filesystem::path& directory, const c10::Device& device);

}  // namespace modelswarm::search
