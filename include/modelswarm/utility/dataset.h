// Evaluation data for utilities: JSONL or JSON-array files (formats/records.h) whose records are
// mapped onto the roles a utility needs (prompt, choices, gold, answer, context, continuation,
// text) through `utility.data.fields`, rendered with an optional prompt template and few-shot
// examples, and split deterministically into dev and test. Every problem is found at load time,
// before any search, with one message naming the file and the line (or the config key).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "modelswarm/utility/utility.h"

namespace modelswarm {
class JsonReader;
}

namespace modelswarm::utility {

/// Roles a utility reads from each record.
enum class Role { kPrompt, kChoices, kGold, kAnswer, kContinuation };
const char* role_name(Role role);

/// A record turned into what utilities score.
struct Example {
  int64_t record = 0;                // index into the file's records
  std::string location;              // "file.jsonl:12"
  std::string prompt;                // few-shot prefix + rendered prompt (likelihood: the context)
  std::vector<std::string> choices;  // kChoices
  int64_t gold = -1;                 // kGold: index into choices
  std::string answer;                // kAnswer (or the continuation)
  std::string continuation;          // kContinuation
  nlohmann::json fields;             // the record as read (passed to external commands)
};

struct TaskData {
  std::filesystem::path path;
  std::vector<Example> dev;
  std::vector<Example> validation;  // empty unless data.validation_size is set
  std::vector<Example> test;
  std::vector<Example> shots;  // few-shot examples (already folded into prompts)
  std::optional<std::string> delimiter;  // continuation_delimiter as configured

  const std::vector<Example>& split(Split which) const {
    return which == Split::kDev ? dev : which == Split::kValidation ? validation : test;
  }
};

/// Options shared by the utilities' `data` objects (configs/README.md, "## utility").
struct DataOptions {
  std::vector<Role> required;  // roles that must resolve for every record
  std::vector<Role> optional;  // roles used when present (a likelihood's prompt)
};

/// Reads `utility.data` (path, fields, prompt_template, few_shot, few_shot_separator,
/// continuation_delimiter, dev_size, validation_size, test_size, seed, shuffle), loads and validates the file.
TaskData load_task_data(JsonReader& data, const std::filesystem::path& base_dir, const DataOptions& options);

/// Renders "{field}" placeholders from a record ("{{" and "}}" are literal braces). Array fields
/// render as lettered lines ("A. first\nB. second"), numbers as JSON. Throws Error naming
/// `location` when the record lacks a field.
std::string render_template(const std::string& templ, const nlohmann::json& fields, const std::string& location);
/// The field names a template uses; throws ConfigError naming `where` on an unbalanced brace.
std::vector<std::string> template_fields(const std::string& templ, const std::string& where);

/// The separator between a prompt and its continuation: `configured` when set, else " " unless
/// the prompt ends or the continuation starts with whitespace (lm-eval-harness target_delimiter,
/// adapted so that both "Answer:" + "A" and "in the" + " park" layouts work as is).
std::string continuation_delimiter(const std::optional<std::string>& configured, const std::string& prompt,
                                   const std::string& continuation);

/// Gold as given in a record: an index, a letter "A".."Z", a numeric string, or a choice's text.
/// Returns the index or nothing when unrecognised.
std::optional<int64_t> parse_gold(const nlohmann::json& value, const std::vector<std::string>& choices);

/// Fisher-Yates shuffle of 0..n-1 with mt19937_64(seed): the same on every platform.
std::vector<int64_t> deterministic_permutation(int64_t n, uint64_t seed);

}  // namespace modelswarm::utility
