#include "modelswarm/formats/records.h"

#include <algorithm>
#include <cctype>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/json_reader.h"

namespace modelswarm::records {
namespace fs = std::filesystem;

namespace {

bool is_blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

bool looks_like_json_array(const std::string& text) {
  for (unsigned char c : text) {
    if (std::isspace(c)) continue;
    return c == '[';
  }
  return false;
}

}  // namespace

std::vector<Record> read_records(const fs::path& path) {
  const std::string text = read_file(path);
  const std::string name = path.string();
  std::vector<Record> records;
  const std::string ext = path.extension().string();
  const bool array = ext == ".json" || (ext != ".jsonl" && looks_like_json_array(text));
  if (array) {
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(cat(name, ": invalid JSON: ", e.what()));
    }
    if (!doc.is_array()) throw Error(cat(name, ": expected a JSON array of objects, got ", json_type_name(doc)));
    for (size_t i = 0; i < doc.size(); ++i) {
      if (!doc[i].is_object())
        throw Error(cat(name, ": element ", i + 1, ": expected a JSON object, got ", json_type_name(doc[i])));
      records.push_back({std::move(doc[i]), static_cast<int64_t>(i + 1)});
    }
  } else {
    size_t begin = 0;
    int64_t line = 0;
    while (begin <= text.size()) {
      size_t end = text.find('\n', begin);
      if (end == std::string::npos) end = text.size();
      ++line;
      std::string row = text.substr(begin, end - begin);
      begin = end + 1;
      if (!row.empty() && row.back() == '\r') row.pop_back();
      if (is_blank(row)) continue;
      nlohmann::json value;
      try {
        value = nlohmann::json::parse(row);
      } catch (const nlohmann::json::parse_error& e) {
        throw Error(cat(name, ":", line, ": invalid JSON: ", e.what()));
      }
      if (!value.is_object()) throw Error(cat(name, ":", line, ": expected a JSON object, got ", json_type_name(value)));
      records.push_back({std::move(value), line});
    }
  }
  if (records.empty()) throw Error(cat(name, ": the data set is empty (no records)"));
  return records;
}

std::string record_location(const fs::path& path, const Record& record) {
  const std::string ext = path.extension().string();
  if (ext == ".json") return cat(path.string(), ": element ", record.line);
  return cat(path.string(), ":", record.line);
}

}  // namespace modelswarm::records
