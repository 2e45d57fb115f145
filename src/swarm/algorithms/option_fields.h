// Private to src/swarm/algorithms: an algorithm's `search` keys as one table, so that each key
// is spelled once and reading, writing and range checks cannot drift apart.
//
//   const OptionFields<CommonOptions> fields = OptionFields<CommonOptions>()
//       .number("max_iterations", &CommonOptions::max_iterations, at_least(0));
//   fields.read(reader, options);   fields.to_json(options);   fields.validate(options);
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modelswarm/common/error.h"
#include "modelswarm/common/json_reader.h"

namespace modelswarm::swarm::detail {

/// A range rule on a number: what it says when broken, and the test.
struct Rule {
  std::string says;  // "must not be negative"
  std::function<bool(double)> holds;
};
inline Rule any() { return {"", [](double) { return true; }}; }
inline Rule at_least(double low) { return {cat("must be at least ", low), [=](double v) { return v >= low; }}; }
inline Rule non_negative() { return {"must not be negative", [](double v) { return v >= 0; }}; }
inline Rule positive() { return {"must be positive", [](double v) { return v > 0; }}; }
/// [low, high) when open_high, else [low, high].
inline Rule in_range(double low, double high, bool open_high = false) {
  return {cat("must be in [", low, ", ", high, open_high ? ")" : "]"),
          [=](double v) { return v >= low && (open_high ? v < high : v <= high); }};
}
/// (low, high]
inline Rule above_up_to(double low, double high) {
  return {cat("must be in (", low, ", ", high, "]"), [=](double v) { return v > low && v <= high; }};
}

/// Throws ConfigError("search.<key>: <rule>, got <value>").
[[noreturn]] inline void fail_option(const std::string& key, const std::string& says, const std::string& value) {
  throw ConfigError(cat("search.", key, ": ", says, ", got ", value));
}

template <typename Options>
class OptionFields {
 public:
  /// A number key (double, int64_t, uint64_t) within `rule`.
  template <typename T>
  OptionFields& number(const char* key, T Options::*member, Rule rule = any()) {
    fields_.push_back({key,
                       [=](JsonReader& r, Options& o) { o.*member = r.get_or<T>(key, o.*member); },
                       [=](const Options& o) { return nlohmann::json(o.*member); },
                       [=](const Options& o) { check(key, rule, static_cast<double>(o.*member)); }});
    return *this;
  }
  OptionFields& flag(const char* key, bool Options::*member) { return number(key, member); }
  /// An enum or string-valued key: `parse` throws ConfigError for an unknown name.
  template <typename T>
  OptionFields& choice(const char* key, T Options::*member, std::function<T(const std::string&)> parse,
                       std::function<std::string(T)> print) {
    fields_.push_back({key,
                       [=](JsonReader& r, Options& o) {
                         if (!r.has(key)) return;
                         try {
                           o.*member = parse(r.get<std::string>(key));
                         } catch (const ConfigError& e) {
                           throw ConfigError(cat(r.source(), ": ", e.what()));
                         }
                       },
                       [=](const Options& o) { return nlohmann::json(print(o.*member)); },
                       [](const Options&) {}});
    return *this;
  }
  /// A [low, high] pair of numbers kept in two members (low ≤ high).
  OptionFields& range(const char* key, double Options::*low, double Options::*high) {
    fields_.push_back({key,
                       [=](JsonReader& r, Options& o) {
                         if (!r.has(key)) return;
                         const auto pair = r.get<std::vector<double>>(key);
                         if (pair.size() != 2) r.fail(key, "expected [low, high]");
                         o.*low = pair[0];
                         o.*high = pair[1];
                       },
                       [=](const Options& o) { return nlohmann::json::array({o.*low, o.*high}); },
                       [=](const Options& o) {
                         if (!(o.*high >= o.*low))
                           fail_option(key, "the upper bound must not be below the lower bound", cat(o.*high));
                       }});
    return *this;
  }

  /// Reads the keys present (the others keep their value in `options`).
  void read(JsonReader& reader, Options& options) const {
    for (const auto& f : fields_) f.read(reader, options);
  }
  nlohmann::json to_json(const Options& options) const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& f : fields_) out[f.key] = f.write(options);
    return out;
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& f : fields_) out.push_back(f.key);
    return out;
  }
  /// Throws ConfigError for the first field outside its rule.
  void validate(const Options& options) const {
    for (const auto& f : fields_) f.validate(options);
  }

 private:
  struct Field {
    std::string key;
    std::function<void(JsonReader&, Options&)> read;
    std::function<nlohmann::json(const Options&)> write;
    std::function<void(const Options&)> validate;
  };
  static void check(const char* key, const Rule& rule, double value) {
    if (!rule.holds(value)) fail_option(key, rule.says, cat(value));
  }
  std::vector<Field> fields_;
};

}  // namespace modelswarm::swarm::detail
