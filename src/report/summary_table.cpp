#include "modelswarm/report/summary_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace modelswarm::report {
namespace {
using json = nlohmann::json;

const char* const kSplits[] = {"dev", "validation", "test"};

struct Row {
  std::string name;
  json scores;  // {"dev", "validation", "test"}: numbers or null
};

bool has_number(const json& scores, const char* split) {
  return scores.is_object() && scores.contains(split) && scores[split].is_number();
}

std::string format(const json& scores, const char* split) {
  if (!has_number(scores, split)) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", scores[split].get<double>());
  return text;
}

}  // namespace

std::string summary_table(const json& report) {
  std::vector<Row> rows;
  // The best expert on dev (the first of equals).
  if (report.contains("experts") && report["experts"].is_array()) {
    const json* best = nullptr;
    for (const auto& e : report["experts"])
      if (has_number(e, "dev") && (!best || e["dev"].get<double>() > (*best)["dev"].get<double>())) best = &e;
    if (best) rows.push_back({"best expert (" + best->value("name", std::string("?")) + ")", *best});
  }
  if (report.contains("uniform_average") && report["uniform_average"].is_object())
    rows.push_back({"uniform average", report["uniform_average"]});
  if (report.contains("baselines") && report["baselines"].is_array())
    for (const auto& b : report["baselines"])
      if (b.is_object()) rows.push_back({b.value("name", std::string("?")), b});
  if (report.contains("swarm_best") && report["swarm_best"].is_object())
    rows.push_back({"swarm best", report["swarm_best"]});
  if (rows.empty()) return "";

  std::vector<const char*> splits;
  for (const char* split : kSplits)
    if (std::any_of(rows.begin(), rows.end(), [&](const Row& r) { return has_number(r.scores, split); }))
      splits.push_back(split);
  size_t name_width = 0;
  for (const auto& r : rows) name_width = std::max(name_width, r.name.size());
  std::vector<size_t> widths;
  for (const char* split : splits) widths.push_back(std::max<size_t>(std::string(split).size(), 5));

  auto cell = [](const std::string& text, size_t width) { return std::string(width - std::min(width, text.size()), ' ') + text; };
  std::string out = std::string(name_width, ' ');
  for (size_t s = 0; s < splits.size(); ++s) out += "  " + cell(splits[s], widths[s]);
  out += "\n";
  for (const auto& r : rows) {
    out += r.name + std::string(name_width - r.name.size(), ' ');
    for (size_t s = 0; s < splits.size(); ++s) out += "  " + cell(format(r.scores, splits[s]), widths[s]);
    out += "\n";
  }
  if (report.contains("best") && report["best"].is_object()) {
    const json& best = report["best"];
    const std::string source = best.value("source", std::string("swarm"));
    if (source != "swarm") out += "returned adapter (best/): " + best.value("name", std::string("?")) + " (" + source + ")\n";
  }
  return out;
}

}  // namespace modelswarm::report
