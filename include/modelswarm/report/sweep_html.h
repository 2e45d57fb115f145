// The sweep report: one self-contained HTML file (inline SVG and CSS, no scripts, no network),
// drawn from a sweep directory's sweep.json (the summary) and sweep.jsonl (one line per trial),
// in the style of the run report (html_report.h).
//
// sweep.json: {"utility": {"type", "metric"}, "selection": "validation" | "dev",
//   "varied": {KEY: {"kind": "range" | "choice", "log": bool}}, "winner": TRIAL, "trials", "mode",
//   "seed", "evaluations", "engine_evaluations", "wall_time_s",
//   "baselines": {"best_expert": {"name", "dev", "validation", "test"},
//                 "uniform_average": {"dev", "validation", "test"}},
//   "sweep": {...the config's sweep section...}}
// sweep.jsonl, one object per trial: {"trial", "varied": {KEY: number | string | bool}, "search",
//   "status": "finished" | "pruned" | "budget", "stopped_because", "iterations", "evaluations",
//   "returned": {"source", "name", "dev", "validation", "test"}, "config"}
// Any utility may be null (a split the task does not have).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace modelswarm::report {

/// The HTML text for a sweep: cards (winner, baselines, evaluations, wall time), every trial
/// ranked by its returned adapter's utility on the selection split, one scatter plot of that
/// utility per varied key (log x axis for keys marked "log", one column per category for
/// string and boolean keys) and the sweep's configuration.
std::string render_sweep_html(const nlohmann::json& summary, const std::vector<nlohmann::json>& trials);

/// Reads RUN_DIR/sweep.json and RUN_DIR/sweep.jsonl and writes RUN_DIR/sweep.html atomically.
/// Returns the path written. A torn last line of sweep.jsonl (a sweep killed mid-append) is
/// ignored; throws Error naming the file (and line) when an input is missing or malformed.
std::filesystem::path write_sweep_html(const std::filesystem::path& run_dir);

}  // namespace modelswarm::report
