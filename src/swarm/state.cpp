#include "modelswarm/swarm/state.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "modelswarm/common/error.h"
#include "modelswarm/swarm/json_number.h"

namespace modelswarm::swarm {

namespace {
// "global_best" keeps history.jsonl's key from before algorithms were plug-ins.
const char* const kRecordKeys[] = {"iteration", "utilities", "global_best", "evaluated", "wall_time_s"};
}

nlohmann::json IterationRecord::to_json() const {
  nlohmann::json j = {{"iteration", iteration},
                      {"utilities", utilities_to_json(utilities)},
                      {"global_best", utility_to_json(best)},
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
    r.utilities = utilities_from_json(j.at("utilities"));
    r.best = utility_from_json(j.at("global_best"));
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

StopReason parse_stop_reason(const std::string& name) {
  for (StopReason r : {StopReason::kNone, StopReason::kMaxIterations, StopReason::kPatience})
    if (to_string(r) == name) return r;
  throw Error(cat("unknown stop_reason \"", name, "\""));
}

State State::clone() const {
  State copy = *this;
  for (at::Tensor* t : {&copy.positions, &copy.best})
    if (t->defined()) *t = t->clone();
  for (auto& [name, t] : copy.tensors)
    if (t.defined()) t = t.clone();
  return copy;
}

std::vector<int64_t> State::every_row() const {
  std::vector<int64_t> rows(static_cast<size_t>(size()));
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

at::Tensor& State::tensor(const std::string& name) {
  auto it = tensors.find(name);
  MS_CHECK(it != tensors.end(), "search state: the algorithm's tensor \"", name, "\" is missing");
  return it->second;
}

const at::Tensor& State::tensor(const std::string& name) const {
  auto it = tensors.find(name);
  MS_CHECK(it != tensors.end(), "search state: the algorithm's tensor \"", name, "\" is missing");
  return it->second;
}

}  // namespace modelswarm::swarm
