// Private to src/swarm/algorithms: what the registry knows of an algorithm. An algorithm file
// defines `AlgorithmEntry <name>_algorithm()`; registry.cpp lists it on one line.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "modelswarm/swarm/algorithm.h"

namespace modelswarm::swarm::detail {

struct AlgorithmEntry {
  std::string name;     // `search.algorithm`
  std::string summary;  // one line
  /// Reads the algorithm's own keys from `search` (the common ones are read) and returns the
  /// validated algorithm; throws ConfigError naming the key.
  std::function<std::shared_ptr<const Algorithm>(const CommonOptions& common, JsonReader& search)> read;
};

}  // namespace modelswarm::swarm::detail
