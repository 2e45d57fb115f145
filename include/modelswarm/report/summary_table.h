// The result table a search prints at its end (and `modelswarm report` could): how the best
// expert, the experts' uniform average, the merge baselines and the swarm's best score on each
// split, drawn from report.json.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace modelswarm::report {

/// A plain-text table, one row per candidate, one column per split that has a score:
///
///                                  dev    test
///   best expert (capital-2000)   0.345   0.630
///   uniform average              0.150   0.140
///   ties                         0.200   0.190
///   swarm best                   0.995   0.990
///
/// Rows: the expert with the highest dev utility (named), `uniform_average`, each entry of
/// `baselines` ({"name", "dev", "validation", "test"}), then `swarm_best`; a last line names the
/// returned adapter (`best`) when it is not the swarm's best. Missing or null scores print as
/// "-"; rows whose report keys are absent are left out. Every line ends with '\n'.
std::string summary_table(const nlohmann::json& report);

}  // namespace modelswarm::report
