// Lenient reading of the JSON files Hugging Face libraries write (config.json,
// adapter_config.json): unlike task configs (common/json_reader.h), unknown keys are allowed,
// since these files carry many keys that modelswarm does not use, and null counts as absent,
// since transformers and PEFT write null for options left unset. A value of the wrong type is an
// Error naming the file and the key path:
//   "config.json: rope_scaling.factor: expected a number, got \"x\"".
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace modelswarm::hf {

/// Typed access to the keys of one JSON object of such a file. `Json` is nlohmann::json, or
/// nlohmann::ordered_json when the order of the keys matters (adapter_config.json's rank_pattern:
/// the first pattern that matches wins). The object must outlive the reader.
template <typename Json>
class BasicJsonFields {
 public:
  /// `source` names the file in messages; throws Error "SOURCE: expected a JSON object" for
  /// anything else.
  BasicJsonFields(const Json& object, std::string source);

  /// Whether the key is there and not null.
  bool has(const std::string& key) const;
  /// The value of a key as stored (null included), for checks the getters below do not make;
  /// a missing key throws Error.
  const Json& at(const std::string& key) const;
  /// The keys in the object's order (file order for ordered_json).
  std::vector<std::string> keys() const;

  // Required keys: a missing or null key throws Error "...: missing (required)".
  int64_t integer(const std::string& key) const;
  int64_t positive(const std::string& key) const;

  // Optional keys: `fallback` when the key is missing or null.
  int64_t integer(const std::string& key, int64_t fallback) const;
  int64_t positive(const std::string& key, int64_t fallback) const;
  double number(const std::string& key, double fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  std::string string(const std::string& key, const std::string& fallback) const;
  /// An integer or a list of integers (config.json's eos_token_id); empty when missing or null.
  std::vector<int64_t> integers(const std::string& key) const;

  /// The object under `key`, whose messages name "key.inner"; a missing key throws Error.
  BasicJsonFields object(const std::string& key) const;

  /// Throws Error "SOURCE: KEY_PATH: PROBLEM".
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;
  const std::string& source() const { return source_; }

 private:
  BasicJsonFields(const Json& object, std::string source, std::string prefix);
  int64_t check_positive(const std::string& key, int64_t value) const;

  const Json& object_;
  std::string source_;
  std::string prefix_;  // the key path of this object inside the file, with a trailing "."
};

using JsonFields = BasicJsonFields<nlohmann::json>;
using OrderedJsonFields = BasicJsonFields<nlohmann::ordered_json>;

extern template class BasicJsonFields<nlohmann::json>;
extern template class BasicJsonFields<nlohmann::ordered_json>;

}  // namespace modelswarm::hf
