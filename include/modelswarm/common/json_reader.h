// Strict reading of JSON config objects: every key is either read or reported as unknown,
// every type is checked, and every error names the file and the key path
// ("task.json: search.inertia: expected a number, got \"fast\"").
#pragma once

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "modelswarm/common/error.h"

namespace modelswarm {

/// Parses a JSON file; a syntax error becomes a ConfigError naming the file, line and column.
nlohmann::json parse_json_file(const std::string& path);

class JsonReader {
 public:
  /// `source` names the file; `path` is the key path of `value` inside it ("" at the top).
  JsonReader(const nlohmann::json& value, std::string source, std::string path = "");

  bool has(const std::string& key) const;
  /// A required key: missing or of the wrong type throws ConfigError.
  template <typename T> T get(const std::string& key);
  /// An optional key with its default.
  template <typename T> T get_or(const std::string& key, const T& fallback);
  /// A nested object reader; the key must hold an object.
  JsonReader object(const std::string& key);
  /// Reader for each element of an array key that holds objects.
  std::vector<JsonReader> objects(const std::string& key);

  /// Throws ConfigError listing the keys that were never read.
  void reject_unknown_keys() const;

  /// "file: a.b.c" for messages about `key` of this object.
  std::string where(const std::string& key = "") const;
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

  /// Checks a number range: throws "file: key: must be in [lo, hi], got v".
  template <typename T> T in_range(const std::string& key, T value, T lo, T hi) const;

  const nlohmann::json& value() const { return value_; }
  const std::string& source() const { return source_; }

 private:
  const nlohmann::json& lookup(const std::string& key);
  template <typename T> T convert(const std::string& key, const nlohmann::json& v) const;

  const nlohmann::json& value_;
  std::string source_;
  std::string path_;
  std::set<std::string> read_;
};

std::string json_type_name(const nlohmann::json& v);

// ---- template definitions ----

template <typename T>
T JsonReader::convert(const std::string& key, const nlohmann::json& v) const {
  auto mismatch = [&](const char* expected) {
    fail(key, cat("expected ", expected, ", got ", json_type_name(v), " ", v.dump()));
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) mismatch("true or false");
    return v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) mismatch("an integer");
    if constexpr (std::is_unsigned_v<T>) {
      if (!v.is_number_unsigned() && v.get<int64_t>() < 0) fail(key, cat("must not be negative, got ", v.dump()));
    }
    return v.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) mismatch("a number");
    return v.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) mismatch("a string");
    return v.get<std::string>();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!v.is_array()) mismatch("an array of strings");
    std::vector<std::string> out;
    for (const auto& e : v) {
      if (!e.is_string()) fail(key, cat("expected an array of strings, found ", json_type_name(e), " ", e.dump()));
      out.push_back(e.get<std::string>());
    }
    return out;
  } else if constexpr (std::is_same_v<T, std::vector<double>>) {
    if (!v.is_array()) mismatch("an array of numbers");
    std::vector<double> out;
    for (const auto& e : v) {
      if (!e.is_number()) fail(key, cat("expected an array of numbers, found ", json_type_name(e), " ", e.dump()));
      out.push_back(e.get<double>());
    }
    return out;
  } else {
    static_assert(sizeof(T) == 0, "unsupported config value type");
  }
}

template <typename T>
T JsonReader::get(const std::string& key) {
  return convert<T>(key, lookup(key));
}

template <typename T>
T JsonReader::get_or(const std::string& key, const T& fallback) {
  if (!has(key)) return fallback;
  return get<T>(key);
}

template <typename T>
T JsonReader::in_range(const std::string& key, T value, T lo, T hi) const {
  if (!(value >= lo && value <= hi)) fail(key, cat("must be in [", lo, ", ", hi, "], got ", value));
  return value;
}

}  // namespace modelswarm
