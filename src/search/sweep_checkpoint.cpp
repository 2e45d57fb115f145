#include "search/sweep_checkpoint.h"

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/json_reader.h"
#include "modelswarm/swarm/checkpoint.h"

namespace modelswarm::search {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kFormat = 1;

std::string trial_dir_name(size_t t) {
  std::string digits = std::to_string(t);
  return "trial-" + std::string(digits.size() < 2 ? 2 - digits.size() : 0, '0') + digits;
}

std::string iteration_dir_name(int64_t iteration) { return "iteration-" + std::to_string(iteration); }

// The directory sweep.json names now, or "" when there is none.
std::string current_directory(const fs::path& directory) {
  const fs::path file = directory / "sweep.json";
  if (!fs::exists(file)) return "";
  return parse_json_file(file.string()).value("directory", std::string());
}

}  // namespace

bool sweep_checkpoint_exists(const fs::path& directory) { return fs::exists(directory / "sweep.json"); }

void save_sweep_checkpoint(const fs::path& directory, const SweepCheckpoint& checkpoint) {
  fs::create_directories(directory);
  const std::string previous = current_directory(directory);
  const std::string name = iteration_dir_name(checkpoint.iteration);
  const fs::path tmp = directory / (name + ".tmp");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  json statuses = json::array();
  for (size_t t = 0; t < checkpoint.trials.size(); ++t) {
    const SweepTrialState& trial = checkpoint.trials[t];
    const fs::path linked = directory / previous / trial_dir_name(t);
    if (!trial.moved && !previous.empty() && previous != name && fs::exists(linked / "state.json"))
      fs::copy(linked, tmp / trial_dir_name(t), fs::copy_options::recursive | fs::copy_options::create_hard_links);
    else
      swarm::save_checkpoint(tmp / trial_dir_name(t), trial.state, trial.options, trial.metadata);
    statuses.push_back(trial.status);
  }
  const fs::path final_dir = directory / name;
  if (name == previous) {
    // Saving the same iteration again (a resume that had nothing to do): keep what is there.
    fs::remove_all(tmp, ec);
  } else {
    fs::remove_all(final_dir, ec);
    fs::rename(tmp, final_dir, ec);
    if (ec) throw Error(cat(final_dir.string(), ": cannot rename the checkpoint into place: ", ec.message()));
  }
  const json state = {{"format", kFormat},
                      {"directory", name},
                      {"iteration", checkpoint.iteration},
                      {"engine_evaluations", checkpoint.engine_evaluations},
                      {"statuses", statuses},
                      {"trial_searches", checkpoint.trial_searches}};
  write_text_atomic(directory / "sweep.json", state.dump(1) + "\n");
  for (const auto& entry : fs::directory_iterator(directory))
    if (entry.is_directory() && entry.path().filename() != name) fs::remove_all(entry.path(), ec);
}

SweepCheckpoint load_sweep_checkpoint(const fs::path& directory, const c10::Device& device) {
  const fs::path file = directory / "sweep.json";
  const json state = parse_json_file(file.string());
  JsonReader r(state, file.string());
  const int64_t format = r.get<int64_t>("format");
  if (format != kFormat)
    r.fail("format", cat("this modelswarm reads sweep checkpoint format ", kFormat, ", got ", format));
  SweepCheckpoint c;
  const std::string name = r.get<std::string>("directory");
  c.iteration = r.get<int64_t>("iteration");
  c.engine_evaluations = r.get<int64_t>("engine_evaluations");
  const std::vector<std::string> statuses = r.get<std::vector<std::string>>("statuses");
  c.trial_searches = state.at("trial_searches");
  if (!c.trial_searches.is_array() || c.trial_searches.size() != statuses.size())
    r.fail("trial_searches", cat("expected ", statuses.size(), " search objects"));
  for (size_t t = 0; t < statuses.size(); ++t) {
    swarm::Checkpoint trial = swarm::load_checkpoint(directory / name / trial_dir_name(t), device);
    SweepTrialState s;
    s.state = std::move(trial.state);
    s.status = statuses[t];
    s.moved = false;
    s.options = std::move(trial.options);
    s.metadata = std::move(trial.metadata);
    c.trials.push_back(std::move(s));
  }
  return c;
}

}  // namespace modelswarm::search
