#include "modelswarm/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "report/svg_plot.h"

namespace modelswarm::report {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

namespace {

// ---- the charts -------------------------------------------------------------------------------

std::string utility_chart(const std::vector<json>& history) {
  Plot p;
  std::vector<std::pair<double, double>> best, worst, mean;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& h : history) {
    const double k = number_or_nan(h, "iteration");
    const double b = number_or_nan(h, "global_best"), w = number_or_nan(h, "global_worst");
    double sum = 0;
    int n = 0;
    if (h.contains("utilities"))
      for (const auto& u : h["utilities"])
        if (u.is_number() && std::isfinite(u.get<double>())) { sum += u.get<double>(); ++n; }
    const double m = n ? sum / n : std::nan("");
    best.emplace_back(k, b);
    worst.emplace_back(k, w);
    mean.emplace_back(k, m);
    for (double v : {b, w, m})
      if (std::isfinite(v)) { lo = std::min(lo, v); hi = std::max(hi, v); }
  }
  p.x_min = history.empty() ? 0 : number_or_nan(history.front(), "iteration");
  p.x_max = history.empty() ? 1 : std::max(p.x_min + 1, number_or_nan(history.back(), "iteration"));
  fit_y(p, lo, hi);
  std::ostringstream s;
  s << svg_open(p, "global best, worst and mean utility per iteration") << axes(p, "iteration", "utility (dev)")
    << polyline(p, worst, "worst") << polyline(p, mean, "mean") << polyline(p, best, "best") << "</svg>"
    << "<p class='legend'><span class='k best'></span>global best <span class='k mean'></span>mean "
       "<span class='k worst'></span>global worst</p>";
  return s.str();
}

std::string particle_chart(const std::vector<json>& history) {
  Plot p;
  size_t particles = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& h : history) {
    if (!h.contains("utilities")) continue;
    particles = std::max(particles, h["utilities"].size());
    for (const auto& u : h["utilities"])
      if (u.is_number() && std::isfinite(u.get<double>())) { lo = std::min(lo, u.get<double>()); hi = std::max(hi, u.get<double>()); }
  }
  p.x_min = history.empty() ? 0 : number_or_nan(history.front(), "iteration");
  p.x_max = history.empty() ? 1 : std::max(p.x_min + 1, number_or_nan(history.back(), "iteration"));
  fit_y(p, lo, hi);
  std::ostringstream s;
  s << svg_open(p, "utility of each particle per iteration") << axes(p, "iteration", "utility (dev)");
  for (size_t i = 0; i < particles; ++i) {
    std::vector<std::pair<double, double>> points;
    for (const auto& h : history) {
      if (!h.contains("utilities") || i >= h["utilities"].size() || !h["utilities"][i].is_number()) continue;
      points.emplace_back(number_or_nan(h, "iteration"), h["utilities"][i].get<double>());
    }
    const int hue = static_cast<int>((i * 360) / std::max<size_t>(1, particles));
    s << "<polyline class='particle' style='stroke:hsl(" << hue << ",60%,45%)' points='";
    for (const auto& [x, y] : points)
      if (std::isfinite(y)) s << p.x(x) << "," << p.y(y) << " ";
    s << "'><title>particle " << i << "</title></polyline>";
  }
  s << "</svg>";
  return s.str();
}

struct Bar {
  std::string name;
  double dev, test;
  std::string cls;
};

std::string comparison_chart(const std::vector<Bar>& bars) {
  const bool has_test = std::any_of(bars.begin(), bars.end(), [](const Bar& b) { return std::isfinite(b.test); });
  Plot p;
  p.height = 60 + 34.0 * bars.size();
  p.left = 170;
  double lo = 0, hi = -std::numeric_limits<double>::infinity();
  for (const auto& b : bars)
    for (double v : {b.dev, b.test})
      if (std::isfinite(v)) { lo = std::min(lo, v); hi = std::max(hi, v); }
  if (!std::isfinite(hi)) hi = 1;
  p.x_min = lo;
  p.x_max = hi > lo ? hi * 1.08 : lo + 1;
  std::ostringstream s;
  s << svg_open(p, "experts vs swarm");
  const double row = 34, bar = has_test ? 13 : 22;
  for (size_t i = 0; i < bars.size(); ++i) {
    const double y0 = p.top + i * row;
    s << "<text class='tick' x='" << p.left - 8 << "' y='" << y0 + row / 2 + 2 << "' text-anchor='end'>"
      << escape(bars[i].name) << "</text>";
    auto draw = [&](double v, double y, const std::string& cls, const char* split) {
      if (!std::isfinite(v)) return;
      s << "<rect class='" << cls << "' x='" << p.x(p.x_min) << "' y='" << y << "' width='"
        << std::max(1.0, p.x(v) - p.x(p.x_min)) << "' height='" << bar << "'><title>" << split << " " << fixed(v, 4)
        << "</title></rect><text class='value' x='" << p.x(v) + 4 << "' y='" << y + bar - 2 << "'>" << fixed(v, 3)
        << "</text>";
    };
    draw(bars[i].dev, y0 + 3, "dev " + bars[i].cls, "dev");
    if (has_test) draw(bars[i].test, y0 + 3 + bar + 1, "test " + bars[i].cls, "test");
  }
  s << "</svg><p class='legend'><span class='k dev'></span>dev"
    << (has_test ? " <span class='k test'></span>test" : "") << "</p>";
  return s.str();
}

std::string config_table(const json& report) {
  std::ostringstream s;
  s << "<table>";
  auto row = [&](const std::string& k, const std::string& v) {
    s << "<tr><th>" << escape(k) << "</th><td>" << escape(v) << "</td></tr>";
  };
  for (const char* key : {"algorithm", "stopped_because", "iterations", "evaluations", "seed", "device", "dtype",
                          "dtype_reason", "wall_time_s", "seconds_per_iteration", "evaluated_tokens"}) {
    if (report.contains(key)) row(key, report[key].is_string() ? report[key].get<std::string>() : report[key].dump());
  }
  if (report.contains("utility")) row("utility", report["utility"].dump());
  if (report.contains("versions")) row("versions", report["versions"].dump());
  s << "</table>";
  if (report.contains("config")) s << "<h3>Configuration</h3><pre>" << escape(report["config"].dump(2)) << "</pre>";
  return s.str();
}

// Every candidate the search could return, on each split it was scored on: the returned adapter
// first, then the swarm's best, the experts, their uniform average and the merge baselines.
std::string candidates_table(const json& report) {
  std::vector<std::pair<std::string, json>> rows;
  if (report.contains("best")) rows.emplace_back("returned (best/): " + report["best"].value("name", std::string()), report["best"]);
  if (report.contains("swarm_best")) rows.emplace_back("swarm's global best", report["swarm_best"]);
  if (report.contains("experts") && report["experts"].is_array())
    for (const auto& e : report["experts"]) rows.emplace_back("expert " + e.value("name", std::string()), e);
  if (report.contains("uniform_average")) rows.emplace_back("uniform average", report["uniform_average"]);
  if (report.contains("baselines") && report["baselines"].is_array())
    for (const auto& b : report["baselines"]) rows.emplace_back("merge " + b.value("name", std::string()), b);
  std::ostringstream s;
  s << "<table><tr><th>candidate</th><th>dev</th><th>validation</th><th>test</th></tr>";
  for (const auto& [name, values] : rows) {
    s << "<tr><td>" << escape(name) << "</td>";
    for (const char* split : {"dev", "validation", "test"}) s << "<td>" << fixed(number_or_nan(values, split)) << "</td>";
    s << "</tr>";
  }
  s << "</table>";
  return s.str();
}

std::string warnings_section(const json& report) {
  if (!report.contains("warnings") || !report["warnings"].is_array() || report["warnings"].empty()) return "";
  std::ostringstream s;
  s << "<section class='warn'><h2>Warnings</h2><ul>";
  for (const auto& w : report["warnings"]) s << "<li>" << escape(w.is_string() ? w.get<std::string>() : w.dump()) << "</li>";
  s << "</ul></section>";
  return s.str();
}

}  // namespace

std::string render_html(const json& report, const std::vector<json>& history) {
  std::vector<Bar> bars;
  if (report.contains("experts") && report["experts"].is_array()) {
    for (const auto& e : report["experts"])
      bars.push_back(Bar{e.value("name", std::string("expert")), number_or_nan(e, "dev"), number_or_nan(e, "test"), "expert"});
  }
  if (report.contains("uniform_average"))
    bars.push_back(Bar{"uniform average", number_or_nan(report["uniform_average"], "dev"),
                       number_or_nan(report["uniform_average"], "test"), "average"});
  const json best = report.value("best", json::object());
  bars.push_back(Bar{"returned (" + best.value("source", std::string("swarm")) + ")", number_or_nan(best, "dev"),
                     number_or_nan(best, "test"), "swarm"});

  double best_expert_dev = -std::numeric_limits<double>::infinity();
  for (const auto& b : bars)
    if (b.cls == "expert" && std::isfinite(b.dev)) best_expert_dev = std::max(best_expert_dev, b.dev);

  std::ostringstream html;
  const std::string metric = report.contains("utility") && report["utility"].contains("type")
                                 ? report["utility"]["type"].get<std::string>()
                                 : std::string("utility");
  html << page_open("modelswarm run report");
  html << "<h1>modelswarm run report</h1><p class='sub'>" << escape(metric) << " · "
       << history.size() << " iterations recorded"
       << (report.contains("stopped_because") ? " · stopped: " + escape(report["stopped_because"].get<std::string>()) : "")
       << "</p>";
  html << "<div class='cards'>" << card("returned (dev)", fixed(number_or_nan(best, "dev")))
       << card("returned (test)", fixed(number_or_nan(best, "test"))) << card("best expert (dev)", fixed(best_expert_dev))
       << card("uniform average (dev)", fixed(number_or_nan(report.value("uniform_average", json::object()), "dev")))
       << card("wall time", fixed(number_or_nan(report, "wall_time_s"), 1) + " s") << "</div>";
  html << warnings_section(report);
  html << "<section><h2>Utility per iteration</h2>" << utility_chart(history) << "</section>";
  html << "<section><h2>Each particle's utility</h2>" << particle_chart(history) << "</section>";
  html << "<section><h2>Experts, their uniform average and the returned adapter</h2>" << comparison_chart(bars)
       << "</section>";
  html << "<section><h2>Every candidate</h2>" << candidates_table(report) << "</section>";
  html << "<section><h2>Run</h2>" << config_table(report) << "</section>";
  html << page_close();
  return html.str();
}

std::vector<json> read_history(const fs::path& file) {
  std::vector<json> out;
  if (!fs::exists(file)) return out;
  std::istringstream in(read_file(file));
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      out.push_back(json::parse(line));
    } catch (const json::parse_error&) {
      if (in.peek() == std::char_traits<char>::eof()) break;  // torn last line of a crashed run
      throw Error(cat(file.string(), ":", number, ": not a JSON line"));
    }
  }
  return out;
}

fs::path write_html_report(const fs::path& run_dir) {
  const fs::path report_path = run_dir / "report.json";
  if (!fs::exists(report_path)) throw Error(cat(run_dir.string(), ": no report.json (not a finished run directory?)"));
  json report;
  try {
    report = json::parse(read_file(report_path));
  } catch (const json::parse_error& e) {
    throw Error(cat(report_path.string(), ": invalid JSON: ", e.what()));
  }
  const fs::path out = run_dir / "report.html";
  write_text_atomic(out, render_html(report, read_history(run_dir / "history.jsonl")));
  return out;
}

}  // namespace modelswarm::report
