#include "modelswarm/formats/hf_json.h"

#include <utility>

#include "modelswarm/common/error.h"

namespace modelswarm::hf {

template <typename Json>
BasicJsonFields<Json>::BasicJsonFields(const Json& object, std::string source)
    : BasicJsonFields(object, std::move(source), "") {
  if (!object_.is_object()) throw Error(cat(source_, ": expected a JSON object"));
}

template <typename Json>
BasicJsonFields<Json>::BasicJsonFields(const Json& object, std::string source, std::string prefix)
    : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

template <typename Json>
bool BasicJsonFields<Json>::has(const std::string& key) const {
  const auto it = object_.find(key);
  return it != object_.end() && !it->is_null();
}

template <typename Json>
const Json& BasicJsonFields<Json>::at(const std::string& key) const {
  const auto it = object_.find(key);
  if (it == object_.end()) fail(key, "missing (required)");
  return *it;
}

template <typename Json>
std::vector<std::string> BasicJsonFields<Json>::keys() const {
  std::vector<std::string> out;
  for (const auto& item : object_.items()) out.push_back(item.key());
  return out;
}

template <typename Json>
void BasicJsonFields<Json>::fail(const std::string& key, const std::string& problem) const {
  throw Error(cat(source_, ": ", prefix_, key, ": ", problem));
}

template <typename Json>
int64_t BasicJsonFields<Json>::integer(const std::string& key) const {
  if (!has(key)) fail(key, "missing (required)");
  const Json& v = object_.at(key);
  if (!v.is_number_integer()) fail(key, cat("expected an integer, got ", v.dump()));
  return v.template get<int64_t>();
}

template <typename Json>
int64_t BasicJsonFields<Json>::integer(const std::string& key, int64_t fallback) const {
  return has(key) ? integer(key) : fallback;
}

template <typename Json>
int64_t BasicJsonFields<Json>::positive(const std::string& key) const {
  return check_positive(key, integer(key));
}

template <typename Json>
int64_t BasicJsonFields<Json>::positive(const std::string& key, int64_t fallback) const {
  return check_positive(key, integer(key, fallback));
}

template <typename Json>
int64_t BasicJsonFields<Json>::check_positive(const std::string& key, int64_t value) const {
  if (value <= 0) fail(key, cat("must be positive, got ", value));
  return value;
}

template <typename Json>
double BasicJsonFields<Json>::number(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const Json& v = object_.at(key);
  if (!v.is_number()) fail(key, cat("expected a number, got ", v.dump()));
  return v.template get<double>();
}

template <typename Json>
bool BasicJsonFields<Json>::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const Json& v = object_.at(key);
  if (!v.is_boolean()) fail(key, cat("expected true or false, got ", v.dump()));
  return v.template get<bool>();
}

template <typename Json>
std::string BasicJsonFields<Json>::string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const Json& v = object_.at(key);
  if (!v.is_string()) fail(key, cat("expected a string, got ", v.dump()));
  return v.template get<std::string>();
}

template <typename Json>
std::vector<int64_t> BasicJsonFields<Json>::integers(const std::string& key) const {
  if (!has(key)) return {};
  const Json& v = object_.at(key);
  if (v.is_number_integer()) return {v.template get<int64_t>()};
  if (!v.is_array()) fail(key, cat("expected an integer or a list of integers, got ", v.dump()));
  std::vector<int64_t> out;
  for (const Json& e : v) {
    if (!e.is_number_integer()) fail(key, cat("expected integers, got ", e.dump()));
    out.push_back(e.template get<int64_t>());
  }
  return out;
}

template <typename Json>
BasicJsonFields<Json> BasicJsonFields<Json>::object(const std::string& key) const {
  const Json& v = at(key);
  if (!v.is_object()) fail(key, cat("expected an object, got ", v.dump()));
  return BasicJsonFields(v, source_, prefix_ + key + ".");
}

template class BasicJsonFields<nlohmann::json>;
template class BasicJsonFields<nlohmann::ordered_json>;

}  // namespace modelswarm::hf
