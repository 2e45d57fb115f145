#include "modelswarm/search/candidates.h"

#include <limits>
#include <sstream>

namespace modelswarm::search {
using nlohmann::json;

namespace {

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

double on_split(const Candidate& c, SelectionSplit split) {
  return split == SelectionSplit::kDev ? c.dev : c.validation;
}

std::string points(double fraction) {
  std::ostringstream out;
  out.setf(std::ios::showpos);
  out.precision(3);
  out << fraction;
  return out.str();
}

// The best expert's utility on one split (-inf when none was scored there).
double best_of(const std::vector<Candidate>& experts, double Candidate::*split) {
  double best = -std::numeric_limits<double>::infinity();
  for (const auto& e : experts)
    if (std::isfinite(e.*split)) best = std::max(best, e.*split);
  return best;
}

}  // namespace

std::string to_string(CandidateKind kind) {
  switch (kind) {
    case CandidateKind::kSwarm: return "swarm";
    case CandidateKind::kExpert: return "expert";
    case CandidateKind::kUniformAverage: return "uniform_average";
    case CandidateKind::kMerge: return "merge";
  }
  return "?";
}

json Candidate::to_json() const {
  return {{"kind", to_string(kind)}, {"name", name}, {"dev", number(dev)}, {"validation", number(validation)},
          {"test", number(test)}};
}

size_t select_returned(const std::vector<Candidate>& candidates, SelectionSplit split) {
  size_t chosen = 0;
  double best = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < candidates.size(); ++i) {
    const double u = on_split(candidates[i], split);
    if (std::isfinite(u) && u > best) {
      best = u;
      chosen = i;
    }
  }
  return chosen;
}

std::vector<std::string> overfitting_warnings(const Candidate& swarm_best, const std::vector<Candidate>& experts) {
  std::vector<std::string> warnings;
  const double dev_gain = swarm_best.dev - best_of(experts, &Candidate::dev);
  if (!(std::isfinite(dev_gain) && dev_gain > 0)) return warnings;
  std::vector<std::string> shrunk;
  for (const auto& [name, split] : {std::pair{"validation", &Candidate::validation}, std::pair{"test", &Candidate::test}}) {
    const double held_out = swarm_best.*split - best_of(experts, split);
    if (std::isfinite(held_out) && held_out < dev_gain / 2) shrunk.push_back(points(held_out) + " on " + name);
  }
  if (shrunk.empty()) return warnings;
  std::string where;
  for (const auto& s : shrunk) where += (where.empty() ? "" : " and ") + s;
  warnings.push_back("the swarm's gain over the best expert on dev (" + points(dev_gain) + ") shrinks to " + where +
                     ": the search fitted the dev split more than the task (a larger dev split, a validation split "
                     "or fewer iterations help)");
  return warnings;
}

}  // namespace modelswarm::search
