// Checkpoints of a swarm search, safe against kill -9 at any moment.
//
// A checkpoint directory holds
//   state.json                        scalars, per-particle vectors, history, RNG state, options,
//                                     caller metadata, and the name of the tensor file
//   tensors-<iteration>-<k>.safetensors  positions, velocities, personal_best (N, D),
//                                     global_best, global_worst (D), fp32
// A save writes a new tensor file (temp + fsync + rename), then replaces state.json the same
// way, then deletes tensor files state.json no longer names. state.json always names a complete
// tensor file, so at every instant the directory holds one complete checkpoint: the old one
// until the rename of state.json, the new one after it.
//
// Tests prove it by killing a search at those instants: MODELSWARM_TEST_KILL_CHECKPOINT=K:STAGE
// makes save_checkpoint SIGKILL its process while saving iteration K, with STAGE "tensors" (new
// tensor file written, not renamed), "state" (state.json written, not renamed) or "cleanup"
// (state.json renamed, old tensor file not deleted). Unset, it costs one getenv per save.
#pragma once

#include <c10/core/Device.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "modelswarm/swarm/options.h"
#include "modelswarm/swarm/state.h"

namespace modelswarm::swarm {

struct Checkpoint {
  State state;
  Options options;          // the options the run was started with
  nlohmann::json metadata;  // whatever the caller saved with it
};

/// Saves `state` (any device) into `directory`, creating it if needed.
void save_checkpoint(const std::filesystem::path& directory, const State& state, const Options& options,
                     const nlohmann::json& metadata = nlohmann::json::object());

/// True when `directory` holds a checkpoint (a state.json).
bool checkpoint_exists(const std::filesystem::path& directory);

/// Loads a checkpoint with its tensors on `device`. Throws Error naming the file on anything
/// missing, malformed or inconsistent (shapes, lengths, RNG state).
Checkpoint load_checkpoint(const std::filesystem::path& directory, const c10::Device& device);

}  // namespace modelswarm::swarm
