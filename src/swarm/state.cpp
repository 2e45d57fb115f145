#include "modelswarm/swarm/state.h"

#include <algorithm>
#include <numeric>

#include "modelswarm/common/error.h"
#include "modelswarm/swarm/json_number.h"

namespace modelswarm::swarm {

namespace {
const char* const kRecordKeys[] = {"iteration", "step_length", "utilities", "global_best", "global_worst",
                                   "restarted", "evaluated", "wall_time_s"};
}

nlohmann::json IterationRecord::to_json() const {
  nlohmann::json j = {{"iteration", iteration},
                      {"step_length", step_length},
                      {"utilities", utilities_to_json(utilities)},
                      {"global_best", utility_to_json(global_best)},
                      {"global_worst", utility_to_json(global_worst)},
                      {"restarted", restarted},
                      {"evaluated", evaluated},
                      {"wall_time_s", wall_time_s}};
  for (const auto& [key, value] : extra.items())
    if (!j.contains(key)) j[key] = value;
  return j;
}

IterationRecord IterationRecord::from_json(const nlohmann::json& j) {
  try {
    IterationRecord r;
    r.iteration = j.at("iteration").get<int64_t>();
    r.step_length = j.at("step_length").get<double>();
    r.utilities = utilities_from_json(j.at("utilities"));
    r.global_best = utility_from_json(j.at("global_best"));
    r.global_worst = utility_from_json(j.at("global_worst"));
    r.restarted = j.at("restarted").get<std::vector<int64_t>>();
    r.evaluated = j.at("evaluated").get<std::vector<int64_t>>();
    r.wall_time_s = j.at("wall_time_s").get<double>();
    for (const auto& [key, value] : j.items()) {
      if (std::find(std::begin(kRecordKeys), std::end(kRecordKeys), key) == std::end(kRecordKeys))
        r.extra[key] = value;
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat("history record: ", e.what()));
  }
}

std::string to_string(StopReason reason) {
  switch (reason) {
    case StopReason::kNone: return "running";
    case StopReason::kMaxIterations: return "max_iterations";
    case StopReason::kPatience: return "patience";
  }
  return "?";
}

std::vector<int64_t> State::ranking() const {
  std::vector<int64_t> order(personal_best_utilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return personal_best_utilities[a] > personal_best_utilities[b];
  });
  return order;
}

}  // namespace modelswarm::swarm
