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
constexpr int kVersion = 1;
const char* const kTensorNames[] = {"positions", "velocities", "personal_best", "global_best", "global_worst"};

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

void save_checkpoint(const fs::path& directory, const State& s, const Options& options, const json& metadata) {
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
  safetensors::write(directory / tensor_file, {{"positions", s.positions},
                                               {"velocities", s.velocities},
                                               {"personal_best", s.personal_best},
                                               {"global_best", s.global_best},
                                               {"global_worst", s.global_worst}});

  json history = json::array();
  for (const auto& record : s.history) history.push_back(record.to_json());
  const json manifest = {{"format", kFormat},
                         {"version", kVersion},
                         {"tensor_file", tensor_file},
                         {"options", to_json(options)},
                         {"iteration", s.iteration},
                         {"step_length", s.step_length},
                         {"iterations_since_improvement", s.iterations_since_improvement},
                         {"evaluations", s.evaluations},
                         {"utilities", utilities_to_json(s.utilities)},
                         {"personal_best_utilities", utilities_to_json(s.personal_best_utilities)},
                         {"stagnation", s.stagnation},
                         {"restart_counts", s.restart_counts},
                         {"evaluation_counts", s.evaluation_counts},
                         {"global_best_utility", utility_to_json(s.global_best_utility)},
                         {"global_worst_utility", utility_to_json(s.global_worst_utility)},
                         {"global_best_index", s.global_best_index},
                         {"global_worst_index", s.global_worst_index},
                         {"rng", s.rng.serialize()},
                         {"stop_reason", to_string(s.stop_reason)},
                         {"history", history},
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
    MS_CHECK(j.at("version") == kVersion, where, ": checkpoint version ", j.at("version").dump(),
             " is not supported (expected ", kVersion, ")");
    c.options = options_from_json(j.at("options"));
    c.metadata = j.at("metadata");
    s.iteration = j.at("iteration").get<int64_t>();
    s.step_length = j.at("step_length").get<double>();
    s.iterations_since_improvement = j.at("iterations_since_improvement").get<int64_t>();
    s.evaluations = j.at("evaluations").get<int64_t>();
    s.utilities = utilities_from_json(j.at("utilities"));
    s.personal_best_utilities = utilities_from_json(j.at("personal_best_utilities"));
    s.stagnation = j.at("stagnation").get<std::vector<int64_t>>();
    s.restart_counts = j.at("restart_counts").get<std::vector<int64_t>>();
    s.evaluation_counts = j.at("evaluation_counts").get<std::vector<int64_t>>();
    s.global_best_utility = utility_from_json(j.at("global_best_utility"));
    s.global_worst_utility = utility_from_json(j.at("global_worst_utility"));
    s.global_best_index = j.at("global_best_index").get<int64_t>();
    s.global_worst_index = j.at("global_worst_index").get<int64_t>();
    MS_CHECK(s.rng.deserialize(j.at("rng").get<std::string>()), where, ": invalid random generator state");
    const std::string stop = j.at("stop_reason").get<std::string>();
    if (stop == "max_iterations") s.stop_reason = StopReason::kMaxIterations;
    else if (stop == "patience") s.stop_reason = StopReason::kPatience;
    else MS_CHECK(stop == "running", where, ": unknown stop_reason \"", stop, "\"");
    for (const auto& record : j.at("history")) s.history.push_back(IterationRecord::from_json(record));

    const std::string tensor_file = j.at("tensor_file").get<std::string>();
    MS_CHECK(tensor_file.find('/') == std::string::npos, where, ": invalid tensor_file \"", tensor_file, "\"");
    const auto file = safetensors::File::open(directory / tensor_file);
    at::Tensor* targets[] = {&s.positions, &s.velocities, &s.personal_best, &s.global_best, &s.global_worst};
    for (size_t t = 0; t < 5; ++t) *targets[t] = file.tensor(kTensorNames[t]).to(at::kFloat).to(device);
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(where, ": malformed checkpoint: ", e.what()));
  }

  const int64_t n = s.positions.dim() == 2 ? s.positions.size(0) : -1;
  const int64_t d = n >= 0 ? s.positions.size(1) : -1;
  MS_CHECK(n >= 2, where, ": positions must be (N, D) with N >= 2");
  for (const at::Tensor* t : {&s.velocities, &s.personal_best})
    MS_CHECK(t->sizes() == s.positions.sizes(), where, ": velocities and personal bests must match positions (",
             n, ", ", d, ")");
  for (const at::Tensor* t : {&s.global_best, &s.global_worst})
    MS_CHECK(t->dim() == 1 && t->size(0) == d, where, ": global best/worst must have ", d, " elements");
  const size_t un = static_cast<size_t>(n);
  MS_CHECK(s.utilities.size() == un && s.personal_best_utilities.size() == un && s.stagnation.size() == un &&
               s.restart_counts.size() == un && s.evaluation_counts.size() == un,
           where, ": per-particle lists must have ", n, " entries");
  MS_CHECK(s.global_best_index >= 0 && s.global_best_index < n && s.global_worst_index >= 0 &&
               s.global_worst_index < n,
           where, ": global best/worst index out of range");
  MS_CHECK(static_cast<int64_t>(s.history.size()) == s.iteration + 1, where, ": history has ", s.history.size(),
           " records for ", s.iteration, " iterations");
  return c;
}

}  // namespace modelswarm::swarm
