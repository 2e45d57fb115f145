// The run report: one self-contained HTML file (inline SVG and CSS, no scripts, no network)
// drawn from a run directory's report.json and history.jsonl.
//
// history.jsonl, one object per iteration: {"iteration", "step_length", "utilities": [N],
//   "global_best", "global_worst", "restarted": [...], "evaluated", "wall_time_s", "tokens"}
// report.json: {"config", "seed", "versions", "utility", "experts": [{"name", "dev", "test"}],
//   "uniform_average": {"dev", "test"}, "best": {"dev", "test", ...}, "improvement": {...},
//   "iterations", "stopped_because", "wall_time_s", "evaluated_tokens", ...}
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace modelswarm::report {

/// The HTML text for a report and its history.
std::string render_html(const nlohmann::json& report, const std::vector<nlohmann::json>& history);

/// Reads RUN_DIR/report.json and RUN_DIR/history.jsonl and writes RUN_DIR/report.html atomically.
/// Returns the path written. Throws Error naming the file when an input is missing or malformed.
std::filesystem::path write_html_report(const std::filesystem::path& run_dir);

/// Reads history.jsonl; a torn last line (crash mid-append) is ignored, any other bad line is an error.
std::vector<nlohmann::json> read_history(const std::filesystem::path& file);

}  // namespace modelswarm::report
