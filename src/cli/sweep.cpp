#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/config/task_config.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/search/search_job.h"
#include "modelswarm/search/sweep_job.h"
#include "modelswarm/search/sweep_plan.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::cli {
using nlohmann::json;

namespace {

std::string cell(const json& v) {
  if (v.is_null()) return "–";
  if (v.is_number_float()) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(4) << v.get<double>();
    return out.str();
  }
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// The trials ranked on the selection split, as a plain-text table (the ten best).
std::string ranking_table(const json& summary, const std::filesystem::path& run_dir) {
  std::vector<json> trials;
  std::istringstream lines(read_file(run_dir / "sweep.jsonl"));
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) trials.push_back(json::parse(line));
  const std::string split = summary.at("selection");
  auto score = [&](const json& t) {
    const json& v = t.at("returned").at(split);
    return v.is_number() ? v.get<double>() : -INFINITY;
  };
  std::stable_sort(trials.begin(), trials.end(), [&](const json& a, const json& b) { return score(a) > score(b); });
  auto varied_of = [](const json& t) {
    std::string varied;
    for (const auto& [k, v] : t.at("varied").items()) varied += (varied.empty() ? "" : " ") + k + "=" + cell(v);
    return varied;
  };
  int width = 8;
  for (const auto& t : trials) width = std::max(width, static_cast<int>(varied_of(t).size()) + 2);
  std::ostringstream out;
  out << "rank  trial  " << std::left << std::setw(width) << "varied" << std::setw(24) << "stopped"
      << "iters  evals  dev     validation  test\n";
  for (size_t r = 0; r < trials.size() && r < 10; ++r) {
    const json& t = trials[r];
    out << std::setw(6) << r + 1 << std::setw(7) << t.at("trial").get<int64_t>() << std::setw(width) << varied_of(t)
        << std::setw(24) << t.at("stopped_because").get<std::string>() << std::setw(7) << t.at("iterations").get<int64_t>()
        << std::setw(7) << t.at("evaluations").get<int64_t>() << std::setw(8) << cell(t["returned"]["dev"])
        << std::setw(12) << cell(t["returned"]["validation"]) << cell(t["returned"]["test"]) << "\n";
  }
  if (trials.size() > 10) out << "(" << trials.size() - 10 << " more in sweep.jsonl)\n";
  return out.str();
}

// With replicates: the configurations ranked by their mean over replicates (the ten best).
std::string configuration_table(const json& summary) {
  const json& configurations = summary.at("configurations");
  auto varied_of = [](const json& c) {
    std::string varied;
    for (const auto& [k, v] : c.at("varied").items()) varied += (varied.empty() ? "" : " ") + k + "=" + cell(v);
    return varied.empty() ? std::string("(the config's search section)") : varied;
  };
  int width = 8;
  for (const auto& c : configurations) width = std::max(width, static_cast<int>(varied_of(c).size()) + 2);
  std::ostringstream out;
  out << "mean over " << summary.at("replicates").get<int64_t>() << " replicates (seeds)\n"
      << "rank  config  " << std::left << std::setw(width) << "varied" << "dev     validation  test\n";
  for (size_t r = 0; r < configurations.size() && r < 10; ++r) {
    const json& c = configurations[r];
    const json& m = c.at("returned_mean");
    out << std::setw(6) << r + 1 << std::setw(8) << c.at("configuration").get<int64_t>() << std::setw(width)
        << varied_of(c) << std::setw(8) << cell(m["dev"]) << std::setw(12) << cell(m["validation"]) << cell(m["test"])
        << "\n";
  }
  if (configurations.size() > 10) out << "(" << configurations.size() - 10 << " more in sweep.json)\n";
  return out.str();
}

}  // namespace

CommandRunner add_sweep_command(CLI::App& app) {
  struct Params {
    std::string config;
    std::string output_dir;
    bool resume = false;
    bool json = false;
    bool validate_only = false;
  };
  auto params = std::make_shared<Params>();
  CLI::App* sub = app.add_subcommand(
      "sweep", "Run many searches (the config's sweep section: the search keys to vary) together over one loaded model");
  sub->add_option("--config", params->config, "Task config with a sweep section (configs/README.md)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_flag("--resume", params->resume, "Continue the sweep found in the config's output.dir from its checkpoint");
  sub->add_flag("--json", params->json, "Print the sweep's summary (sweep.json) on stdout at the end");
  sub->add_flag("--validate-only", params->validate_only, "Check the config, list the trials and exit");
  sub->add_option("--output-dir", params->output_dir, "Override output.dir (relative to the current directory)");

  return [params]() {
    TaskConfig config = TaskConfig::load(params->config);
    if (!params->output_dir.empty()) {
      config.raw["output"]["dir"] = std::filesystem::absolute(params->output_dir).string();
      config = TaskConfig::parse(config.raw, config.source);
    }
    const search::SweepPlan plan = search::plan_sweep(config);
    if (params->validate_only) {
      const model::EngineOptions engine{config.device, config.dtype, config.max_batch_tokens};
      utility::make_utility(config.utility, config.source.string(), utility::task_context(config.source, engine));
      search::check_baselines(config);
      std::cout << "config OK: " << params->config << " (" << plan.trials.size() << " trials, " << plan.mode << ")\n";
      for (const auto& t : plan.trials) std::cout << "trial " << t.id << "  " << t.varied.dump() << "\n";
      return 0;
    }
    search::SweepFlags flags;
    flags.resume = params->resume;
    const json summary = search::run_sweep(config, flags);
    if (summary.is_null()) return 0;  // a rank other than 0: rank 0 prints
    if (params->json) {
      std::cout << summary.dump() << "\n";
    } else {
      std::cout << (summary.at("replicates").get<int64_t>() > 1 ? configuration_table(summary)
                                                                 : ranking_table(summary, config.output_dir));
      std::cout << "winner: trial " << summary["winner"] << " (" << summary["selection"].get<std::string>() << " "
                << cell(summary["winner_returned"][summary["selection"].get<std::string>()]) << ", test "
                << cell(summary["winner_returned"]["test"]) << ")\n"
                << "best adapter: " << (config.output_dir / "best").string() << "\n"
                << "report: " << (config.output_dir / "sweep.html").string() << "\n";
    }
    return 0;
  };
}

}  // namespace modelswarm::cli
