// Record files: JSONL (one JSON object per non-blank line) or a JSON array of objects, the data
// sets that utilities score (utility/dataset.h) and that finetune trains on (train/sft_data.h).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace modelswarm::records {

/// One record of a data file, with where it came from.
struct Record {
  nlohmann::json fields;  // the JSON object as read
  int64_t line = 0;       // 1-based line (JSONL) or element index + 1 (JSON array)
};

/// Reads a JSONL file (one object per non-blank line) or a JSON array of objects; the format
/// follows the extension (.jsonl / .json), or the first non-blank character for others.
/// Throws Error "FILE:LINE: ..." for a malformed line or non-object record, and for no records.
std::vector<Record> read_records(const std::filesystem::path& path);

/// "file.jsonl:12" (JSONL) or "file.json: element 12" (JSON array), for messages.
std::string record_location(const std::filesystem::path& path, const Record& record);

}  // namespace modelswarm::records
