// What the report pages (report.html, sweep.html) share, so that they look alike and draw alike:
// the page frame and style, HTML escaping, number formatting, and inline-SVG plots (a linear
// mapping of data to a viewport, its axes, lines). Internal to the report layer.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace modelswarm::report::detail {

// ---- HTML text --------------------------------------------------------------------------------

/// `s` with &, <, > and " replaced by entities: safe in element text and quoted attributes.
std::string escape(const std::string& s);

/// `v` with `digits` decimals, or "–" when it is not finite (a missing or failed score).
std::string fixed(double v, int digits = 3);

/// `v` in at most 4 significant digits, no trailing zeros ("0.05", "1e-05", "1200"): a value
/// as a person wrote it in a config, or a tick on an axis whose step is not a whole number.
std::string short_number(double v);

/// j[key] when it is a number, else NaN (absent, null, or a string).
double number_or_nan(const nlohmann::json& j, const char* key);

/// The page's CSS, shared by every report page.
extern const char* const kStyle;

/// Everything before the page's content: the document head with kStyle then `extra_style`,
/// and the opening of <main>.
std::string page_open(const std::string& title, const std::string& extra_style = "");

/// Closes what page_open() opened.
std::string page_close();

/// One summary card: a small label over a large value.
std::string card(const std::string& label, const std::string& value);

// ---- SVG plots --------------------------------------------------------------------------------

// A linear mapping of data coordinates to an SVG viewport with margins for axes.
struct Plot {
  double width = 720, height = 300;
  double left = 56, right = 16, top = 16, bottom = 36;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  double x(double v) const { return left + (v - x_min) / (x_max - x_min) * (width - left - right); }
  double y(double v) const { return height - bottom - (v - y_min) / (y_max - y_min) * (height - top - bottom); }
};

/// A labelled mark on the x axis, at data coordinate `at` (in the plot's own, maybe log, units).
struct Tick {
  double at;
  std::string label;
};

/// Sets the y range to [lo, hi] with a margin; a degenerate or non-finite range becomes a visible one.
void fit_y(Plot& p, double lo, double hi);

/// Whole-number ticks (iterations): at most 11, evenly spaced over the x range.
std::vector<Tick> whole_number_ticks(const Plot& p);

/// About five ticks at round values (1, 2 or 5 times a power of ten) within [lo, hi].
std::vector<Tick> round_ticks(double lo, double hi);

/// Ticks for an axis drawn in log10 units over [log_lo, log_hi], labelled with the real values:
/// decades when the range spans a few of them, 1-2-5 steps when it spans less, the two ends when
/// even those leave fewer than two ticks.
std::vector<Tick> log_ticks(double log_lo, double log_hi);

/// Both axes, the y grid with its ticks, `x_ticks` and the axis labels.
std::string axes(const Plot& p, const std::string& x_label, const std::string& y_label,
                 const std::vector<Tick>& x_ticks);

/// axes() with whole_number_ticks(): the x axis of a plot over iterations.
std::string axes(const Plot& p, const std::string& x_label, const std::string& y_label);

/// A line through the points; points with a non-finite y are skipped.
std::string polyline(const Plot& p, const std::vector<std::pair<double, double>>& points, const std::string& cls);

/// The opening <svg> tag of a plot, with `title` as its accessible name.
std::string svg_open(const Plot& p, const std::string& title);

}  // namespace modelswarm::report::detail
