// Checkpoints of a search, whatever its algorithm, safe against kill -9 at any moment.
//
// A checkpoint directory holds
//   state.json                        the state's scalars and per-row lists, history, RNG state,
//                                     the algorithm's options and data blob, caller metadata, and
//                                     the name of the tensor file
//   tensors-<iteration>-<k>.safetensors  positions (N, D), best (D), and each of the algorithm's
//                                     tensors as "algorithm.<name>" (in its own dtype)
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

#include "modelswarm/swarm/state.h"

namespace modelswarm::swarm {

struct Checkpoint {
  State state;
  nlohmann::json options;   // the `search` keys the run was started with (to_json(Algorithm))
  nlohmann::json metadata;  // whatever the caller saved with it
};

/// Saves `state` (any device) into `directory`, creating it if needed. `options` is
/// to_json(algorithm) (algorithm.h).
void save_checkpoint(const std::filesystem::path& directory, const State& state, const nlohmann::json& options,
                     const nlohmann::json& metadata = nlohmann::json::object());

/// True when `directory` holds a checkpoint (a state.json).
bool checkpoint_exists(const std::filesystem::path& directory);

/// Loads a checkpoint with its tensors on `device`. Throws Error naming the file on anything
/// missing, malformed or inconsistent in the generic state (shapes, lengths, RNG state); the
/// algorithm's part is checked by Algorithm::check.
Checkpoint load_checkpoint(const std::filesystem::path& directory, const c10::Device& device);

}  // namespace modelswarm::swarm
