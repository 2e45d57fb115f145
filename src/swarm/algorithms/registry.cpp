// The search-algorithm registry: every algorithm by name, and the `search` keys they share.
#include <algorithm>

#include "modelswarm/common/error.h"
#include "modelswarm/common/strings.h"
#include "swarm/algorithms/option_fields.h"
#include "swarm/algorithms/registry.h"

namespace modelswarm::swarm {
namespace detail {

// One line per algorithm: X(name) stands for `AlgorithmEntry name_algorithm()` in
// src/swarm/algorithms/name.cpp.
#define MODELSWARM_SEARCH_ALGORITHMS(X) \
  X(cma_es)                             \
  X(model_swarms)                       \
  X(random_search)

#define MODELSWARM_DECLARE_ALGORITHM(name) AlgorithmEntry name##_algorithm();
MODELSWARM_SEARCH_ALGORITHMS(MODELSWARM_DECLARE_ALGORITHM)
#undef MODELSWARM_DECLARE_ALGORITHM

namespace {

constexpr const char* kDefaultAlgorithm = "model_swarms";

// Sorted by name.
const std::vector<AlgorithmEntry>& registry() {
  static const std::vector<AlgorithmEntry> entries = [] {
#define MODELSWARM_LIST_ALGORITHM(name) name##_algorithm(),
    std::vector<AlgorithmEntry> all = {MODELSWARM_SEARCH_ALGORITHMS(MODELSWARM_LIST_ALGORITHM)};
#undef MODELSWARM_LIST_ALGORITHM
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return all;
  }();
  return entries;
}

const AlgorithmEntry& find(const std::string& name) {
  for (const auto& e : registry())
    if (e.name == name) return e;
  throw ConfigError(cat("search.algorithm: unknown \"", name, "\" (known: ", join(algorithm_names(), ", "), ")"));
}

const OptionFields<CommonOptions>& common_fields() {
  static const auto fields = OptionFields<CommonOptions>()
                                 .number("swarm_size", &CommonOptions::swarm_size, at_least(2))
                                 .number("max_iterations", &CommonOptions::max_iterations, non_negative())
                                 .number("patience", &CommonOptions::patience, at_least(1))
                                 .number("seed", &CommonOptions::seed);
  return fields;
}

}  // namespace
}  // namespace detail

void CommonOptions::validate() const { detail::common_fields().validate(*this); }

std::shared_ptr<const Algorithm> read_algorithm(JsonReader& search) {
  const std::string name = search.get_or<std::string>("algorithm", detail::kDefaultAlgorithm);
  const detail::AlgorithmEntry* entry = nullptr;
  try {
    entry = &detail::find(name);
  } catch (const ConfigError& e) {
    throw ConfigError(cat(search.source(), ": ", e.what()));
  }
  CommonOptions common;
  detail::common_fields().read(search, common);
  try {
    common.validate();
    return entry->read(common, search);
  } catch (const ConfigError& e) {
    // Range errors of validate() do not know the file; reader errors already name it.
    const std::string message = e.what();
    if (message.rfind(search.source(), 0) == 0) throw;
    throw ConfigError(cat(search.source(), ": ", message));
  }
}

std::shared_ptr<const Algorithm> algorithm_from_json(const nlohmann::json& search, const std::string& source) {
  JsonReader reader(search, source, "search");
  auto algorithm = read_algorithm(reader);
  reject_unknown_search_keys(reader, *algorithm);
  return algorithm;
}

void reject_unknown_search_keys(const JsonReader& search, const Algorithm& algorithm) {
  try {
    search.reject_unknown_keys();
  } catch (const ConfigError& e) {
    const nlohmann::json own_options = algorithm.own_options();
    std::vector<std::string> own;
    for (const auto& item : own_options.items()) own.push_back(item.key());
    throw ConfigError(cat(e.what(), " (search.algorithm \"", algorithm.name(), "\" reads ",
                          own.empty() ? std::string("no keys") : join(own, ", "), " beside ",
                          join(detail::common_fields().keys(), ", "), ")"));
  }
}

nlohmann::json to_json(const Algorithm& algorithm) {
  nlohmann::json out = detail::common_fields().to_json(algorithm.common());
  out["algorithm"] = algorithm.name();
  const nlohmann::json own = algorithm.own_options();
  for (const auto& [key, value] : own.items()) out[key] = value;
  return out;
}

std::vector<std::string> algorithm_names() {
  std::vector<std::string> names;
  for (const auto& e : detail::registry()) names.push_back(e.name);
  return names;
}

std::string algorithm_summary(const std::string& name) { return detail::find(name).summary; }

Algorithm::Algorithm(CommonOptions common) : common_(common) { common_.validate(); }

nlohmann::json Algorithm::summary(const State&) const { return nlohmann::json::object(); }

std::string Algorithm::progress(const State&) const { return ""; }

}  // namespace modelswarm::swarm
