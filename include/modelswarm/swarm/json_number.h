// JSON has no infinities: a failed particle's utility (-inf) is written as null and read back
// as -inf. Finite doubles round-trip exactly through nlohmann::json.
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

namespace modelswarm::swarm {

inline nlohmann::json utility_to_json(double value) {
  if (value == -std::numeric_limits<double>::infinity()) return nullptr;
  return value;
}

inline double utility_from_json(const nlohmann::json& value) {
  return value.is_null() ? -std::numeric_limits<double>::infinity() : value.get<double>();
}

inline nlohmann::json utilities_to_json(const std::vector<double>& values) {
  nlohmann::json out = nlohmann::json::array();
  for (double v : values) out.push_back(utility_to_json(v));
  return out;
}

inline std::vector<double> utilities_from_json(const nlohmann::json& values) {
  std::vector<double> out;
  for (const auto& v : values) out.push_back(utility_from_json(v));
  return out;
}

}  // namespace modelswarm::swarm
