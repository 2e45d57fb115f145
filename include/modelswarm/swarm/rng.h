// The one random source of a search. Every draw of the swarm comes from here, on the host, so
// that a seeded CPU run is bit-for-bit reproducible and a checkpoint can carry the stream's
// exact position (std::mt19937_64's textual state is specified by the C++ standard).
#pragma once

#include <cstdint>
#include <random>
#include <sstream>
#include <string>

namespace modelswarm::swarm {

class Rng {
 public:
  explicit Rng(uint64_t seed = 42) : engine_(seed) {}

  /// U(0, 1), open at both ends (53 random bits), so no velocity factor is ever exactly 0.
  /// Written out rather than std::uniform_real_distribution, whose algorithm is unspecified.
  double uniform() { return (static_cast<double>(engine_() >> 11) + 0.5) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }

  /// Uniform integer in [0, n), without modulo bias.
  int64_t index(int64_t n) {
    const uint64_t range = static_cast<uint64_t>(n);
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t x;
    do x = engine_(); while (x >= limit);
    return static_cast<int64_t>(x % range);
  }

  /// 64 raw random bits, e.g. to seed a tensor generator for a large draw.
  uint64_t bits() { return engine_(); }

  std::string serialize() const {
    std::ostringstream out;
    out << engine_;
    return out.str();
  }
  /// Returns false when `text` is not a valid engine state.
  bool deserialize(const std::string& text) {
    std::istringstream in(text);
    std::mt19937_64 engine;
    in >> engine;
    if (in.fail()) return false;
    engine_ = engine;
    return true;
  }

  bool operator==(const Rng& other) const { return engine_ == other.engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace modelswarm::swarm
