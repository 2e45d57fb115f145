#include "report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace modelswarm::report::detail {
using nlohmann::json;

// ---- HTML text --------------------------------------------------------------------------------

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "–";
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << v;
  return out.str();
}

std::string short_number(double v) {
  if (!std::isfinite(v)) return "–";
  std::ostringstream out;
  out << std::setprecision(4) << v;
  return out.str();
}

double number_or_nan(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return std::nan("");
  return j[key].get<double>();
}

const char* const kStyle = R"(
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:960px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:18px 0 6px}
.sub{color:#5b6475;margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px}
.card{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:12px 14px}
.card b{display:block;font-size:22px}.card span{color:#5b6475;font-size:13px}
section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:12px 16px;margin-top:14px}
svg{width:100%;height:auto;display:block}
.axis{stroke:#8a93a5;stroke-width:1}.grid{stroke:#eceef2;stroke-width:1}
.tick{font-size:11px;fill:#5b6475}.label{font-size:12px;fill:#3b4352}.value{font-size:11px;fill:#3b4352}
polyline{fill:none;stroke-width:2}.best{stroke:#1f8a4c}.worst{stroke:#c0392b}.mean{stroke:#2e6fd1;stroke-dasharray:4 3}
.particle{stroke-width:1.2;opacity:.75}
rect.dev{fill:#2e6fd1}rect.test{fill:#f0a202}rect.swarm.dev{fill:#1f8a4c}rect.swarm.test{fill:#7fc79c}
rect.average.dev{fill:#6f7b91}rect.average.test{fill:#b3bac7}
.legend{font-size:13px;color:#5b6475;margin:4px 0 0}.k{display:inline-block;width:14px;height:4px;margin:0 4px 3px 10px;vertical-align:middle}
.k.best{background:#1f8a4c}.k.worst{background:#c0392b}.k.mean{background:#2e6fd1}.k.dev{background:#2e6fd1;height:10px}.k.test{background:#f0a202;height:10px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
th{width:200px;color:#5b6475;font-weight:600}td{word-break:break-all}
section.warn{border-color:#e0a100;background:#fff8e5}
pre{background:#f6f7f9;border-radius:6px;padding:10px;font-size:12px;overflow:auto;max-height:360px}
)";

std::string page_open(const std::string& title, const std::string& extra_style) {
  return "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
         "<meta name='viewport' content='width=device-width,initial-scale=1'><title>" +
         escape(title) + "</title><style>" + kStyle + extra_style + "</style></head><body><main>";
}

std::string page_close() { return "</main></body></html>\n"; }

std::string card(const std::string& label, const std::string& value) {
  return "<div class='card'><span>" + escape(label) + "</span><b>" + escape(value) + "</b></div>";
}

// ---- SVG plots --------------------------------------------------------------------------------

void fit_y(Plot& p, double lo, double hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const double pad = (hi - lo) * 0.08;
  p.y_min = lo - pad;
  p.y_max = hi + pad;
}

std::vector<Tick> whole_number_ticks(const Plot& p) {
  std::vector<Tick> ticks;
  const int x_ticks = static_cast<int>(std::min(10.0, p.x_max - p.x_min));
  for (int i = 0; i <= std::max(1, x_ticks); ++i) {
    const double v = p.x_min + (p.x_max - p.x_min) * i / std::max(1, x_ticks);
    ticks.push_back({v, fixed(v, 0)});
  }
  return ticks;
}

std::vector<Tick> round_ticks(double lo, double hi) {
  if (!(hi > lo)) return {{lo, short_number(lo)}};
  const double rough = (hi - lo) / 4;
  const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  double step = magnitude;
  for (double multiple : {2.0, 5.0, 10.0})
    if (step < rough) step = multiple * magnitude;
  std::vector<Tick> ticks;
  const double first = std::ceil(lo / step);
  for (double i = first; i * step <= hi + step * 1e-9; ++i) {
    const double v = i * step + 0.0;  // + 0.0: ceil(-0.3) is -0, and a tick reads "0", not "-0"
    ticks.push_back({v, short_number(v)});
  }
  return ticks;
}

std::vector<Tick> log_ticks(double log_lo, double log_hi) {
  auto ticks_at = [&](std::initializer_list<double> mantissas) {
    std::vector<Tick> ticks;
    for (double decade = std::floor(log_lo); decade <= std::ceil(log_hi); ++decade)
      for (double m : mantissas) {
        const double at = decade + std::log10(m);
        if (at >= log_lo - 1e-9 && at <= log_hi + 1e-9) ticks.push_back({at, short_number(std::pow(10.0, at))});
      }
    return ticks;
  };
  std::vector<Tick> ticks = ticks_at({1});
  if (ticks.size() < 3) ticks = ticks_at({1, 2, 5});
  if (ticks.size() < 2)
    ticks = {{log_lo, short_number(std::pow(10.0, log_lo))}, {log_hi, short_number(std::pow(10.0, log_hi))}};
  return ticks;
}

std::string axes(const Plot& p, const std::string& x_label, const std::string& y_label,
                 const std::vector<Tick>& x_ticks) {
  std::ostringstream s;
  s << "<line class='axis' x1='" << p.left << "' y1='" << p.height - p.bottom << "' x2='" << p.width - p.right
    << "' y2='" << p.height - p.bottom << "'/>";
  s << "<line class='axis' x1='" << p.left << "' y1='" << p.top << "' x2='" << p.left << "' y2='"
    << p.height - p.bottom << "'/>";
  for (int i = 0; i <= 4; ++i) {
    const double v = p.y_min + (p.y_max - p.y_min) * i / 4;
    s << "<line class='grid' x1='" << p.left << "' y1='" << p.y(v) << "' x2='" << p.width - p.right << "' y2='"
      << p.y(v) << "'/><text class='tick' x='" << p.left - 6 << "' y='" << p.y(v) + 4 << "' text-anchor='end'>"
      << fixed(v, 3) << "</text>";
  }
  for (const Tick& tick : x_ticks)
    s << "<text class='tick' x='" << p.x(tick.at) << "' y='" << p.height - p.bottom + 16
      << "' text-anchor='middle'>" << escape(tick.label) << "</text>";
  s << "<text class='label' x='" << (p.left + p.width - p.right) / 2 << "' y='" << p.height - 4
    << "' text-anchor='middle'>" << escape(x_label) << "</text>";
  s << "<text class='label' transform='translate(14," << (p.top + p.height - p.bottom) / 2
    << ") rotate(-90)' text-anchor='middle'>" << escape(y_label) << "</text>";
  return s.str();
}

std::string axes(const Plot& p, const std::string& x_label, const std::string& y_label) {
  return axes(p, x_label, y_label, whole_number_ticks(p));
}

std::string polyline(const Plot& p, const std::vector<std::pair<double, double>>& points, const std::string& cls) {
  std::ostringstream s;
  s << "<polyline class='" << cls << "' points='";
  for (const auto& [x, y] : points)
    if (std::isfinite(y)) s << p.x(x) << "," << p.y(y) << " ";
  s << "'/>";
  return s.str();
}

std::string svg_open(const Plot& p, const std::string& title) {
  std::ostringstream s;
  s << "<svg viewBox='0 0 " << p.width << " " << p.height << "' role='img' aria-label='" << escape(title) << "'>";
  return s.str();
}

}  // namespace modelswarm::report::detail
