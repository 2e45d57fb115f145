#include "modelswarm/report/sweep_html.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <tuple>
#include <sstream>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/report/html_report.h"
#include "report/svg_plot.h"

namespace modelswarm::report {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

namespace {

// ---- reading the summary and the trials -------------------------------------------------------

// j[key], or null when j is not an object or lacks it: both files are read leniently, since a
// sweep that died early leaves keys out.
const json& field(const json& j, const char* key) {
  static const json absent;
  if (!j.is_object()) return absent;
  const auto it = j.find(key);
  return it == j.end() ? absent : *it;
}

// A value as a cell shows it: strings as they are, numbers in a few digits, absent as "–".
std::string text_of(const json& v) {
  if (v.is_null()) return "–";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return short_number(v.get<double>());
  return v.dump();
}

// The split trials are ranked on and the winner chosen by; dev when the summary does not say,
// since every task has one.
std::string selection_split(const json& summary) {
  const json& split = field(summary, "selection");
  return split.is_string() ? split.get<std::string>() : "dev";
}

double returned_utility(const json& trial, const std::string& split) {
  return number_or_nan(field(trial, "returned"), split.c_str());
}

double baseline_utility(const json& summary, const char* baseline, const std::string& split) {
  return number_or_nan(field(field(summary, "baselines"), baseline), split.c_str());
}

bool is_winner(const json& trial, const json& summary) {
  const json& winner = field(summary, "winner");
  return !winner.is_null() && field(trial, "trial") == winner;
}

bool is_pruned(const json& trial) { return field(trial, "status") == "pruned"; }

// Best returned utility on the selection split first; trials without one last; on a tie the
// winner, then the lower trial id, so the order does not depend on the file's.
std::vector<const json*> ranked(const json& summary, const std::vector<json>& trials) {
  const std::string split = selection_split(summary);
  std::vector<const json*> order;
  for (const json& t : trials) order.push_back(&t);
  auto key = [&](const json* t) {
    const double u = returned_utility(*t, split);
    const double id = number_or_nan(*t, "trial");
    return std::make_tuple(std::isfinite(u) ? -u : std::numeric_limits<double>::infinity(), !is_winner(*t, summary),
                           std::isfinite(id) ? id : std::numeric_limits<double>::infinity());
  };
  std::stable_sort(order.begin(), order.end(), [&](const json* a, const json* b) { return key(a) < key(b); });
  return order;
}

// The keys the summary declares, and any a trial varied that it does not (a summary written
// before the last trials were): each gets a column and a plot.
std::vector<std::string> varied_keys(const json& summary, const std::vector<json>& trials) {
  std::set<std::string> keys;
  const json& declared = field(summary, "varied");
  if (declared.is_object())
    for (const auto& [key, _] : declared.items()) keys.insert(key);
  for (const json& t : trials) {
    const json& varied = field(t, "varied");
    if (varied.is_object())
      for (const auto& [key, _] : varied.items()) keys.insert(key);
  }
  return {keys.begin(), keys.end()};
}

const json* winner_trial(const json& summary, const std::vector<json>& trials) {
  for (const json& t : trials)
    if (is_winner(t, summary)) return &t;
  return nullptr;
}

// ---- the header: subtitle and cards -----------------------------------------------------------

std::string subtitle(const json& summary, const std::vector<json>& trials) {
  const json& utility = field(summary, "utility");
  std::string text = field(utility, "type").is_string() ? field(utility, "type").get<std::string>() : "utility";
  if (field(utility, "metric").is_string()) text += " (" + field(utility, "metric").get<std::string>() + ")";
  text += " · " + std::to_string(trials.size());
  const json& planned = field(summary, "trials");
  if (planned.is_number_integer() && planned.get<size_t>() != trials.size()) text += " of " + planned.dump();
  text += " trials · selection: " + selection_split(summary);
  return "<p class='sub'>" + escape(text) + "</p>";
}

std::string cards(const json& summary, const std::vector<json>& trials) {
  const std::string split = selection_split(summary);
  const json* winner = winner_trial(summary, trials);
  const json returned = winner ? field(*winner, "returned") : json();
  const json& expert = field(field(summary, "baselines"), "best_expert");
  const std::string expert_name = field(expert, "name").is_string() ? cat(" ", field(expert, "name").get<std::string>()) : "";
  const json& evaluations = field(summary, "evaluations");
  std::ostringstream s;
  s << "<div class='cards'>" << card("winner (" + split + ")", fixed(number_or_nan(returned, split.c_str())))
    << card("winner (test)", fixed(number_or_nan(returned, "test")))
    << card("best expert" + expert_name + " (" + split + ")", fixed(baseline_utility(summary, "best_expert", split)))
    << card("uniform average (" + split + ")", fixed(baseline_utility(summary, "uniform_average", split)))
    << card("evaluations", evaluations.is_number() ? text_of(evaluations) : "–")
    << card("wall time", fixed(number_or_nan(summary, "wall_time_s"), 1) + " s") << "</div>";
  return s.str();
}

// ---- the ranking ------------------------------------------------------------------------------

std::string status_text(const json& trial) {
  std::string text = text_of(field(trial, "status"));
  const json& because = field(trial, "stopped_because");
  if (!because.is_string()) return text;
  // "pruned at iteration 4" says "pruned" already.
  const std::string& reason = because.get_ref<const std::string&>();
  if (reason.rfind(text, 0) == 0) return reason;
  return cat(text, " · ", reason);
}

std::string ranking_table(const json& summary, const std::vector<json>& trials, const std::vector<std::string>& keys) {
  const std::string split = selection_split(summary);
  std::ostringstream s;
  s << "<table class='ranking'><tr><th>rank</th><th>trial</th>";
  for (const std::string& key : keys) s << "<th>" << escape(key) << "</th>";
  s << "<th>status</th><th>iterations</th><th>evaluations</th>";
  for (const char* column : {"dev", "validation", "test"})
    s << "<th" << (column == split ? " class='selection'" : "") << ">" << column << "</th>";
  s << "</tr>";
  int rank = 0;
  for (const json* trial : ranked(summary, trials)) {
    const json& varied = field(*trial, "varied");
    const json& returned = field(*trial, "returned");
    s << "<tr" << (is_winner(*trial, summary) ? " class='winner'" : "") << "><td>" << ++rank << "</td><td>"
      << escape(text_of(field(*trial, "trial"))) << "</td>";
    for (const std::string& key : keys) s << "<td>" << escape(text_of(field(varied, key.c_str()))) << "</td>";
    s << "<td>" << escape(status_text(*trial)) << "</td><td>" << escape(text_of(field(*trial, "iterations")))
      << "</td><td>" << escape(text_of(field(*trial, "evaluations"))) << "</td>";
    for (const char* column : {"dev", "validation", "test"}) s << "<td>" << fixed(number_or_nan(returned, column)) << "</td>";
    s << "</tr>";
  }
  s << "</table>";
  return s.str();
}

// With replicates: each configuration's mean over its trials, best first (summary.configurations).
std::string configurations_table(const json& summary, const std::vector<std::string>& keys) {
  const std::string split = selection_split(summary);
  const json& winner = field(summary, "winner_configuration");
  std::ostringstream s;
  s << "<table class='ranking'><tr><th>rank</th><th>configuration</th>";
  for (const std::string& key : keys) s << "<th>" << escape(key) << "</th>";
  for (const char* column : {"dev", "validation", "test"})
    s << "<th" << (column == split ? " class='selection'" : "") << ">mean " << column << "</th>";
  s << "</tr>";
  int rank = 0;
  for (const json& c : field(summary, "configurations")) {
    const json& varied = field(c, "varied");
    const json& mean = field(c, "returned_mean");
    s << "<tr" << (field(c, "configuration") == winner ? " class='winner'" : "") << "><td>" << ++rank << "</td><td>"
      << escape(text_of(field(c, "configuration"))) << (varied.empty() ? " (the config's own search)" : "") << "</td>";
    for (const std::string& key : keys) s << "<td>" << escape(text_of(field(varied, key.c_str()))) << "</td>";
    for (const char* column : {"dev", "validation", "test"}) s << "<td>" << fixed(number_or_nan(mean, column)) << "</td>";
    s << "</tr>";
  }
  s << "</table>";
  return s.str();
}

// ---- one scatter plot per varied key ----------------------------------------------------------

// Where each trial sits along a key's x axis (NaN: not drawn, the trial did not vary the key)
// and how the axis is labelled.
struct XAxis {
  std::vector<double> x;  // one per trial, in the plot's units (log10 of the value on a log axis)
  double lo = 0, hi = 1;  // the plotted range
  std::vector<Tick> ticks;
  std::string label;
};

// Widens [lo, hi] so that no point sits on the plot's edge, and a single value gets a range.
std::pair<double, double> padded(double lo, double hi, double single_value_pad) {
  if (hi - lo < 1e-12) return {lo - single_value_pad, hi + single_value_pad};
  const double pad = (hi - lo) * 0.06;
  return {lo - pad, hi + pad};
}

XAxis numeric_axis(const std::string& key, const std::vector<json>& values, bool log) {
  // A log axis cannot place zero or a negative value: such a key is drawn linearly instead.
  const bool all_positive =
      std::all_of(values.begin(), values.end(), [](const json& v) { return !v.is_number() || v.get<double>() > 0; });
  const bool log_axis = log && all_positive;
  XAxis axis;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const json& v : values) {
    const double x = !v.is_number() ? std::nan("") : log_axis ? std::log10(v.get<double>()) : v.get<double>();
    axis.x.push_back(x);
    if (std::isfinite(x)) { lo = std::min(lo, x); hi = std::max(hi, x); }
  }
  if (!std::isfinite(lo)) { lo = 0; hi = 1; }
  const double single_value_pad = log_axis ? 0.5 : std::max(std::abs(lo) * 0.5, 0.5);
  std::tie(axis.lo, axis.hi) = padded(lo, hi, single_value_pad);
  axis.ticks = log_axis ? log_ticks(axis.lo, axis.hi) : round_ticks(axis.lo, axis.hi);
  axis.label = log_axis ? key + " (log scale)" : key;
  return axis;
}

// Horizontal spread of a point within its category's column, by the trial's position in the
// file: deterministic, and the golden-ratio sequence keeps neighbours apart.
double jitter(size_t trial_index) { return (std::fmod(trial_index * 0.6180339887, 1.0) - 0.5) * 0.5; }

// One column per category, in sorted order of the category's text.
XAxis categorical_axis(const std::string& key, const std::vector<json>& values) {
  std::set<std::string> categories;
  for (const json& v : values)
    if (!v.is_null()) categories.insert(text_of(v));
  const std::vector<std::string> columns(categories.begin(), categories.end());
  XAxis axis;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].is_null()) { axis.x.push_back(std::nan("")); continue; }
    const auto column = std::find(columns.begin(), columns.end(), text_of(values[i])) - columns.begin();
    axis.x.push_back(static_cast<double>(column) + jitter(i));
  }
  for (size_t c = 0; c < columns.size(); ++c) axis.ticks.push_back({static_cast<double>(c), columns[c]});
  axis.lo = -0.5;
  axis.hi = std::max<double>(columns.size(), 1) - 0.5;
  axis.label = key;
  return axis;
}

// Numbers are placed along a line; any other value (a string, a boolean, or a mix: no order
// between "cma_es" and 3) makes the key categorical.
XAxis x_axis(const json& summary, const std::string& key, const std::vector<json>& values) {
  const bool numeric =
      std::all_of(values.begin(), values.end(), [](const json& v) { return v.is_null() || v.is_number(); });
  if (!numeric) return categorical_axis(key, values);
  const bool log = field(field(field(summary, "varied"), key.c_str()), "log") == true;
  return numeric_axis(key, values, log);
}

struct ReferenceLine {
  std::string cls, name;
  double utility;
};

std::vector<ReferenceLine> reference_lines(const json& summary) {
  const std::string split = selection_split(summary);
  const json& expert_name = field(field(field(summary, "baselines"), "best_expert"), "name");
  std::vector<ReferenceLine> lines{
      {"expert", expert_name.is_string() ? cat("best expert ", expert_name.get<std::string>()) : "best expert",
       baseline_utility(summary, "best_expert", split)},
      {"average", "uniform average", baseline_utility(summary, "uniform_average", split)}};
  lines.erase(std::remove_if(lines.begin(), lines.end(), [](const ReferenceLine& l) { return !std::isfinite(l.utility); }),
              lines.end());
  return lines;
}

std::string point(const Plot& p, double x, double y, const std::string& cls, double radius, const std::string& title) {
  std::ostringstream s;
  s << "<circle class='" << cls << "' cx='" << p.x(x) << "' cy='" << p.y(y) << "' r='" << radius << "'><title>"
    << escape(title) << "</title></circle>";
  return s.str();
}

std::string key_chart(const json& summary, const std::vector<json>& trials, const std::string& key) {
  const std::string split = selection_split(summary);
  std::vector<json> values;
  for (const json& t : trials) values.push_back(field(field(t, "varied"), key.c_str()));
  const XAxis axis = x_axis(summary, key, values);
  const std::vector<ReferenceLine> references = reference_lines(summary);

  Plot p;
  p.x_min = axis.lo;
  p.x_max = axis.hi;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (size_t i = 0; i < trials.size(); ++i) {
    const double u = returned_utility(trials[i], split);
    if (std::isfinite(axis.x[i]) && std::isfinite(u)) { lo = std::min(lo, u); hi = std::max(hi, u); }
  }
  for (const ReferenceLine& r : references) { lo = std::min(lo, r.utility); hi = std::max(hi, r.utility); }
  fit_y(p, lo, hi);

  std::ostringstream s;
  s << svg_open(p, "utility on " + split + " against " + key) << axes(p, axis.label, "utility (" + split + ")", axis.ticks);
  for (const ReferenceLine& r : references)
    s << "<line class='ref " << r.cls << "' x1='" << p.left << "' y1='" << p.y(r.utility) << "' x2='"
      << p.width - p.right << "' y2='" << p.y(r.utility) << "'><title>" << escape(r.name) << " "
      << fixed(r.utility) << "</title></line>";
  // The winner last, so that no other point hides it.
  std::string winner;
  for (size_t i = 0; i < trials.size(); ++i) {
    const double u = returned_utility(trials[i], split);
    if (!std::isfinite(axis.x[i]) || !std::isfinite(u)) continue;
    const bool won = is_winner(trials[i], summary);
    const std::string cls = std::string("point") + (is_pruned(trials[i]) ? " pruned" : "") + (won ? " winner" : "");
    const std::string title =
        "trial " + text_of(field(trials[i], "trial")) + " · " + key + " " + text_of(values[i]) + " · " + fixed(u);
    if (won)
      winner = point(p, axis.x[i], u, cls, 6, title);
    else
      s << point(p, axis.x[i], u, cls, 4, title);
  }
  s << winner << "</svg>";
  return s.str();
}

std::string charts_section(const json& summary, const std::vector<json>& trials, const std::vector<std::string>& keys) {
  if (keys.empty()) return "";
  std::ostringstream s;
  s << "<section><h2>Utility against each varied key</h2>"
    << "<p class='legend'><span class='k dot'></span>trial <span class='k dot pruned'></span>pruned "
       "<span class='k dot winner'></span>winner <span class='k ref expert'></span>best expert "
       "<span class='k ref average'></span>uniform average</p>";
  for (const std::string& key : keys) s << "<h3>" << escape(key) << "</h3>" << key_chart(summary, trials, key);
  s << "</section>";
  return s.str();
}

// ---- the sweep's configuration ----------------------------------------------------------------

std::string sweep_section(const json& summary) {
  const json& sweep = field(summary, "sweep");
  std::ostringstream s;
  s << "<table>";
  // The summary's resolved values first (mode, trials); the sweep section's as written otherwise.
  for (const char* key : {"seed", "trials", "mode", "max_evaluations", "early_stopping", "selection",
                          "evaluations", "engine_evaluations", "wall_time_s"}) {
    const json& value = field(summary, key).is_null() ? field(sweep, key) : field(summary, key);
    if (!value.is_null())
      s << "<tr><th>" << key << "</th><td>" << escape(value.is_string() ? value.get<std::string>() : value.dump())
        << "</td></tr>";
  }
  if (!field(summary, "utility").is_null()) s << "<tr><th>utility</th><td>" << escape(summary["utility"].dump()) << "</td></tr>";
  s << "</table>";
  if (!sweep.is_null()) s << "<h3>sweep</h3><pre>" << escape(sweep.dump(2)) << "</pre>";
  return s.str();
}

const char* const kSweepStyle = R"(
.ranking th{width:auto}.ranking td{word-break:normal}.ranking th.selection{color:#1d2330}
tr.winner td{background:#e8f5ed;font-weight:600}
div.wide{overflow-x:auto}table.ranking td{word-break:normal}
circle.point{fill:#2e6fd1;stroke:#2e6fd1;stroke-width:1.5;opacity:.85}circle.point.pruned{fill:#fff}
circle.point.winner{fill:#1f8a4c;stroke:#14532d;stroke-width:2;opacity:1}
line.ref{stroke-width:1.5;stroke-dasharray:6 4}line.ref.expert{stroke:#c0392b}line.ref.average{stroke:#6f7b91}
.k.dot{width:10px;height:10px;border-radius:50%;background:#2e6fd1;border:1.5px solid #2e6fd1}
.k.dot.pruned{background:#fff}.k.dot.winner{background:#1f8a4c;border-color:#14532d}
.k.ref{height:0;border-top:2px dashed}.k.ref.expert{border-color:#c0392b}.k.ref.average{border-color:#6f7b91}
)";

}  // namespace

std::string render_sweep_html(const json& summary, const std::vector<json>& trials) {
  const std::vector<std::string> keys = varied_keys(summary, trials);
  std::ostringstream html;
  html << page_open("modelswarm sweep report", kSweepStyle) << "<h1>modelswarm sweep report</h1>"
       << subtitle(summary, trials) << cards(summary, trials);
  const json& replicates = field(summary, "replicates");
  if (replicates.is_number_integer() && replicates.get<int64_t>() > 1 && field(summary, "configurations").is_array())
    html << "<section><h2>Configurations, best first (mean over " << replicates.get<int64_t>()
         << " replicates)</h2><div class='wide'>" << configurations_table(summary, keys) << "</div></section>";
  html << "<section><h2>Trials, best first</h2><div class='wide'>" << ranking_table(summary, trials, keys)
       << "</div></section>";
  html << charts_section(summary, trials, keys);
  html << "<section><h2>Sweep</h2>" << sweep_section(summary) << "</section>";
  html << page_close();
  return html.str();
}

fs::path write_sweep_html(const fs::path& run_dir) {
  const fs::path summary_path = run_dir / "sweep.json";
  const fs::path trials_path = run_dir / "sweep.jsonl";
  for (const fs::path& input : {summary_path, trials_path})
    if (!fs::exists(input)) throw Error(cat(input.string(), ": missing (not a sweep directory?)"));
  json summary;
  try {
    summary = json::parse(read_file(summary_path));
  } catch (const json::parse_error& e) {
    throw Error(cat(summary_path.string(), ": invalid JSON: ", e.what()));
  }
  if (!summary.is_object()) throw Error(cat(summary_path.string(), ": not a JSON object"));
  // sweep.jsonl is appended trial by trial like history.jsonl, and read the same way.
  const std::vector<json> trials = read_history(trials_path);
  for (size_t i = 0; i < trials.size(); ++i)
    if (!trials[i].is_object()) throw Error(cat(trials_path.string(), ": trial record ", i + 1, " is not a JSON object"));
  const fs::path out = run_dir / "sweep.html";
  write_text_atomic(out, render_sweep_html(summary, trials));
  return out;
}

}  // namespace modelswarm::report
