#include "swarm/algorithms/elite_archive.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "modelswarm/common/error.h"

namespace modelswarm::swarm::detail {
using nlohmann::json;

namespace {
struct Entry {
  double utility;
  int64_t iteration;
  int64_t row;
};
}  // namespace

void update_elite_archive(State& s, const std::vector<int64_t>& evaluated, int64_t iteration, int64_t capacity) {
  std::vector<Entry> entries;
  std::vector<at::Tensor> rows;  // each (D)
  if (s.tensors.count("elite")) {
    const at::Tensor& old = s.tensors.at("elite");
    const json& listed = s.data.at("elite");
    for (size_t e = 0; e < listed.size(); ++e) {
      entries.push_back({listed[e].at("utility").get<double>(), listed[e].at("iteration").get<int64_t>(),
                         listed[e].at("row").get<int64_t>()});
      rows.push_back(old[static_cast<int64_t>(e)]);
    }
  }
  for (int64_t i : evaluated) {
    if (!std::isfinite(s.utilities[i])) continue;
    entries.push_back({s.utilities[i], iteration, i});
    rows.push_back(s.positions[i]);
  }
  std::vector<size_t> order(entries.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return entries[a].utility > entries[b].utility; });
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(capacity)));

  json listed = json::array();
  std::vector<at::Tensor> kept;
  for (size_t k : order) {
    listed.push_back({{"utility", entries[k].utility}, {"iteration", entries[k].iteration}, {"row", entries[k].row}});
    kept.push_back(rows[k]);
  }
  s.data["elite"] = listed;
  s.tensors["elite"] = kept.empty() ? at::empty({0, s.dimension()}, s.positions.options()) : at::stack(kept);
}

std::vector<Elite> archive_elite(const State& s, int64_t k) {
  std::vector<Elite> out;
  const json& listed = s.data.at("elite");
  const at::Tensor& rows = s.tensor("elite");
  for (int64_t e = 0; e < std::min<int64_t>(k, static_cast<int64_t>(listed.size())); ++e) {
    const json& entry = listed[e];
    const int64_t iteration = entry.at("iteration").get<int64_t>(), row = entry.at("row").get<int64_t>();
    out.push_back({rows[e], entry.at("utility").get<double>(), cat("iteration ", iteration, ", row ", row), row});
  }
  return out;
}

void check_elite_archive(const State& s, const std::string& where) {
  MS_CHECK(s.data.contains("elite") && s.data.at("elite").is_array(), where, ": the elite list is missing");
  const at::Tensor& rows = s.tensor("elite");
  MS_CHECK(rows.dim() == 2 && rows.size(0) == static_cast<int64_t>(s.data.at("elite").size()) &&
               rows.size(1) == s.dimension(),
           where, ": the elite tensor does not match its list");
  for (const auto& entry : s.data.at("elite"))
    MS_CHECK(entry.contains("utility") && entry.at("utility").is_number() && entry.contains("iteration") &&
                 entry.contains("row"),
             where, ": malformed elite entry ", entry.dump());
}

}  // namespace modelswarm::swarm::detail
