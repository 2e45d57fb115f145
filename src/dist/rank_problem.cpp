#include "modelswarm/dist/rank_problem.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"

namespace modelswarm::dist {
using nlohmann::json;

RankShardedProblem::RankShardedProblem(swarm::Problem& local, RankGroup& group)
    : local_(&local), group_(&group), shares_(group.world().world_size),
      speeds_(group.world().world_size, 0.0) {}

std::vector<double> RankShardedProblem::evaluate(const at::Tensor& positions) {
  const World& world = group_->world();
  const int64_t m = positions.size(0);
  const std::vector<int64_t> counts = swarm::split_rows(m, speeds_);
  int64_t begin = 0;
  for (int64_t r = 0; r < world.rank; ++r) begin += counts[r];

  // This rank's share; a failure of the whole share travels as an error for the others to see.
  json mine = {{"rows", counts[world.rank]}};
  const auto start = std::chrono::steady_clock::now();
  try {
    std::vector<double> own;
    if (counts[world.rank] > 0) own = local_->evaluate(positions.narrow(0, begin, counts[world.rank]));
    json utilities = json::array();
    for (double u : own) utilities.push_back(std::isfinite(u) ? json(u) : json(nullptr));  // NaN and -inf: failed
    mine["utilities"] = utilities;
  } catch (const std::exception& e) {
    mine["error"] = e.what();
  }
  mine["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<std::string> all;
  try {
    all = group_->exchange(cat("evaluation ", calls_++), mine.dump());
  } catch (const Error& e) {
    throw swarm::ProblemUnavailable(e.what());  // no particle's fault: no retry row by row
  }
  std::vector<double> out;
  for (int64_t r = 0; r < world.world_size; ++r) {
    const json part = json::parse(all[r]);
    if (part.contains("error")) throw Error(cat("rank ", r, ": ", part["error"].get<std::string>()));
    MS_CHECK(part.at("rows").get<int64_t>() == counts[r] && part.at("utilities").size() == static_cast<size_t>(counts[r]),
             "rank ", r, " scored ", part.at("rows"), " rows, expected ", counts[r], " (ranks disagree on the split)");
    for (const auto& u : part["utilities"])
      out.push_back(u.is_number() ? u.get<double>() : -std::numeric_limits<double>::infinity());
    shares_[r] = {counts[r], part.at("seconds").get<double>()};
    // Every rank computes the next split from the same published figures.
    if (shares_[r].rows > 0 && shares_[r].seconds > 0) speeds_[r] = shares_[r].rows / shares_[r].seconds;
  }
  return out;
}

}  // namespace modelswarm::dist
