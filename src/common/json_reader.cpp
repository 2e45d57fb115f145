#include "modelswarm/common/json_reader.h"

#include "modelswarm/common/atomic_file.h"

namespace modelswarm {

nlohmann::json parse_json_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw ConfigError(e.what());
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // Report line and column rather than nlohmann's byte offset.
    size_t line = 1, column = 1;
    for (size_t i = 0; i < std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size()); ++i) {
      if (text[i] == '\n') { ++line; column = 1; } else { ++column; }
    }
    throw ConfigError(cat(path, ":", line, ":", column, ": invalid JSON: ", e.what()));
  }
}

std::string json_type_name(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

JsonReader::JsonReader(const nlohmann::json& value, std::string source, std::string path)
    : value_(value), source_(std::move(source)), path_(std::move(path)) {
  if (!value_.is_object()) {
    throw ConfigError(cat(source_, path_.empty() ? "" : ": " + path_, ": expected an object, got ",
                          json_type_name(value_)));
  }
}

bool JsonReader::has(const std::string& key) const { return value_.contains(key); }

std::string JsonReader::where(const std::string& key) const {
  std::string p = path_;
  if (!key.empty()) p = p.empty() ? key : p + "." + key;
  return p.empty() ? source_ : source_ + ": " + p;
}

void JsonReader::fail(const std::string& key, const std::string& problem) const {
  throw ConfigError(cat(where(key), ": ", problem));
}

const nlohmann::json& JsonReader::lookup(const std::string& key) {
  auto it = value_.find(key);
  if (it == value_.end()) fail(key, "is required but missing");
  read_.insert(key);
  return *it;
}

JsonReader JsonReader::object(const std::string& key) {
  const auto& v = lookup(key);
  if (!v.is_object()) fail(key, cat("expected an object, got ", json_type_name(v)));
  return JsonReader(v, source_, path_.empty() ? key : path_ + "." + key);
}

std::vector<JsonReader> JsonReader::objects(const std::string& key) {
  const auto& v = lookup(key);
  if (!v.is_array()) fail(key, cat("expected an array of objects, got ", json_type_name(v)));
  std::vector<JsonReader> out;
  const std::string base = path_.empty() ? key : path_ + "." + key;
  for (size_t i = 0; i < v.size(); ++i) out.emplace_back(v[i], source_, cat(base, "[", i, "]"));
  return out;
}

void JsonReader::reject_unknown_keys() const {
  for (const auto& item : value_.items()) {
    if (!read_.count(item.key())) fail(item.key(), "unknown key (see configs/README.md)");
  }
}

}  // namespace modelswarm
