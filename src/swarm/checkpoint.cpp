#include "modelswarm/swarm/checkpoint.h"

#include <ATen/ATen.h>

#include <csignal>
#include <cstdlib>
#include <optional>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/swarm/json_number.h"

namespace modelswarm::swarm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "modelswarm-checkpoint";
// Version 2: the state of any search algorithm (version 1 held Model Swarms' fields only).
constexpr int kVersion = 2;
constexpr const char* kAlgorithmTensorPrefix = "algorithm.";

fs::path manifest_path(const fs::path& directory) { return directory / "state.json"; }

// The tensor file state.json currently names, or "" when there is none readable.
std::string current_tensor_file(const fs::path& directory) {
  std::error_code ec;
  if (!fs::exists(manifest_path(directory), ec)) return "";
  try {
    return json::parse(read_file(manifest_path(directory))).at("tensor_file").get<std::string>();
  } catch (const std::exception&) {
    return "";
  }
}

bool is_tensor_file(const std::string& name) {
  // tensors-*.safetensors, and the temporary siblings a killed write leaves (.tensors-*.tmp-*)
  return name.rfind("tensors-", 0) == 0 || name.rfind(".tensors-", 0) == 0 || name.rfind(".state.json.tmp-", 0) == 0;
}

// Removes the tensor files (and leftovers of killed writes) other than `keep`.
void remove_tensor_files_except(const fs::path& directory, const std::string& keep) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    const std::string name = entry.path().filename().string();
    if (name != keep && is_tensor_file(name)) fs::remove(entry.path(), ec);
  }
}

// Crash-safety tests only: MODELSWARM_TEST_KILL_CHECKPOINT=ITERATION:STAGE makes the process
// SIGKILL itself while writing the checkpoint of ITERATION, at STAGE:
//   tensors  the new tensor file is complete under its temporary name, not yet renamed
//   state    the new tensor file is in place, the new state.json not yet renamed over the old
//   cleanup  state.json names the new tensor file, the old one is not yet deleted
// Returns the STAGE for `iteration`, or "" (always, when the variable is unset).
std::string test_kill_stage(int64_t iteration) {
  const char* spec = std::getenv("MODELSWARM_TEST_KILL_CHECKPOINT");
  if (spec == nullptr) return "";
  const std::string s = spec;
  const auto colon = s.find(':');
  if (colon == std::string::npos || s.substr(0, colon) != std::to_string(iteration)) return "";
  return s.substr(colon + 1);
}

}  // namespace

void save_checkpoint(const fs::path& directory, const State& s, const json& options, const json& metadata) {
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) throw Error(cat(directory.string(), ": cannot create checkpoint directory: ", ec.message()));

  // Never overwrite the file the current state.json names: a crash mid-write must leave it whole.
  const std::string previous = current_tensor_file(directory);
  // What a killed save left behind goes first: it frees space, and a save that then fails (full
  // disk) leaves only the last good checkpoint.
  if (!previous.empty()) remove_tensor_files_except(directory, previous);
  std::string tensor_file = cat("tensors-", s.iteration, "-0.safetensors");
  if (tensor_file == previous) tensor_file = cat("tensors-", s.iteration, "-1.safetensors");
  const std::string kill_stage = test_kill_stage(s.iteration);
  std::optional<BeforeRename> crash_point;
  if (!kill_stage.empty())
    crash_point.emplace([&](const fs::path& destination) {
      const std::string name = destination.filename().string();
      if ((kill_stage == "tensors" && name == tensor_file) || (kill_stage == "state" && name == "state.json"))
        ::raise(SIGKILL);
    });
  safetensors::NamedTensors tensors = {{"positions", s.positions}, {"best", s.best}};
  for (const auto& [name, t] : s.tensors) tensors.emplace_back(kAlgorithmTensorPrefix + name, t);
  safetensors::write(directory / tensor_file, tensors);

  json history = json::array();
  for (const auto& record : s.history) history.push_back(record.to_json());
  const json manifest = {{"format", kFormat},
                         {"version", kVersion},
                         {"tensor_file", tensor_file},
                         {"options", options},
                         {"iteration", s.iteration},
                         {"iterations_since_improvement", s.iterations_since_improvement},
                         {"evaluations", s.evaluations},
                         {"utilities", utilities_to_json(s.utilities)},
                         {"best_utility", utility_to_json(s.best_utility)},
                         {"best_index", s.best_index},
                         {"rng", s.rng.serialize()},
                         {"stop_reason", to_string(s.stop_reason)},
                         {"history", history},
                         {"algorithm_data", s.data},
                         {"metadata", metadata}};
  write_text_atomic(manifest_path(directory), manifest.dump(1) + "\n");

  if (kill_stage == "cleanup") ::raise(SIGKILL);
  // Only now may the previous tensor file go.
  remove_tensor_files_except(directory, tensor_file);
}

bool checkpoint_exists(const fs::path& directory) {
  std::error_code ec;
  return fs::exists(manifest_path(directory), ec);
}

Checkpoint load_checkpoint(const fs::path& directory, const c10::Device& device) {
  const fs::path manifest_file = manifest_path(directory);
  MS_CHECK(checkpoint_exists(directory), directory.string(), ": no checkpoint here (state.json is missing)");
  const std::string where = manifest_file.string();
  Checkpoint c;
  State& s = c.state;
  try {
    const json j = json::parse(read_file(manifest_file));
    MS_CHECK(j.at("format") == kFormat, where, ": not a modelswarm checkpoint");
    MS_CHECK(j.at("version") != 1, where,
             ": a checkpoint of version 1, written by modelswarm before search algorithms were plug-ins; finish "
             "the run with that version, or start it afresh in another output.dir");
    MS_CHECK(j.at("version") == kVersion, where, ": checkpoint version ", j.at("version").dump(),
             " is not supported (expected ", kVersion, ")");
    c.options = j.at("options");
    MS_CHECK(c.options.is_object(), where, ": options must be an object");
    c.metadata = j.at("metadata");
    s.iteration = j.at("iteration").get<int64_t>();
    s.iterations_since_improvement = j.at("iterations_since_improvement").get<int64_t>();
    s.evaluations = j.at("evaluations").get<int64_t>();
    s.utilities = utilities_from_json(j.at("utilities"));
    s.best_utility = utility_from_json(j.at("best_utility"));
    s.best_index = j.at("best_index").get<int64_t>();
    MS_CHECK(s.rng.deserialize(j.at("rng").get<std::string>()), where, ": invalid random generator state");
    try {
      s.stop_reason = parse_stop_reason(j.at("stop_reason").get<std::string>());
    } catch (const Error& e) {
      throw Error(cat(where, ": ", e.what()));
    }
    for (const auto& record : j.at("history")) s.history.push_back(IterationRecord::from_json(record));
    s.data = j.at("algorithm_data");
    MS_CHECK(s.data.is_object(), where, ": algorithm_data must be an object");

    const std::string tensor_file = j.at("tensor_file").get<std::string>();
    MS_CHECK(tensor_file.find('/') == std::string::npos, where, ": invalid tensor_file \"", tensor_file, "\"");
    const auto file = safetensors::File::open(directory / tensor_file);
    s.positions = file.tensor("positions").to(at::kFloat).to(device);
    s.best = file.tensor("best").to(at::kFloat).to(device);
    const std::string prefix = kAlgorithmTensorPrefix;
    for (const auto& entry : file.entries())
      if (entry.name.rfind(prefix, 0) == 0) s.tensors[entry.name.substr(prefix.size())] = file.tensor(entry).to(device);
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(where, ": malformed checkpoint: ", e.what()));
  }

  const int64_t n = s.positions.dim() == 2 ? s.positions.size(0) : -1;
  const int64_t d = n >= 0 ? s.positions.size(1) : -1;
  MS_CHECK(n >= 1, where, ": positions must be (N, D) with N >= 1");
  MS_CHECK(s.best.dim() == 1 && s.best.size(0) == d, where, ": best must have ", d, " elements");
  MS_CHECK(s.utilities.size() == static_cast<size_t>(n), where, ": utilities must have ", n, " entries");
  MS_CHECK(s.best_index >= 0 && s.best_index < n, where, ": best_index out of range");
  MS_CHECK(static_cast<int64_t>(s.history.size()) == s.iteration + 1, where, ": history has ", s.history.size(),
           " records for ", s.iteration, " iterations");
  return c;
}

}  // namespace modelswarm::swarm
