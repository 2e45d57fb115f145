#include "modelswarm/utility/dataset.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <random>

#include "modelswarm/common/error.h"
#include "modelswarm/common/strings.h"
#include "modelswarm/common/json_reader.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/formats/records.h"

namespace modelswarm::utility {
namespace fs = std::filesystem;
using records::read_records;
using records::Record;
using records::record_location;

// ---------------------------------------------------------------------------------------------
// Templates, delimiters, gold labels

std::vector<std::string> template_fields(const std::string& templ, const std::string& where) {
  std::vector<std::string> fields;
  for (size_t i = 0; i < templ.size(); ++i) {
    const char c = templ[i];
    if (c == '{') {
      if (i + 1 < templ.size() && templ[i + 1] == '{') { ++i; continue; }
      const size_t close = templ.find('}', i);
      if (close == std::string::npos) throw ConfigError(cat(where, ": unclosed \"{\" at offset ", i));
      const std::string name = templ.substr(i + 1, close - i - 1);
      if (name.empty() || name.find('{') != std::string::npos)
        throw ConfigError(cat(where, ": empty or nested placeholder at offset ", i, " (write {{ for a literal brace)"));
      fields.push_back(name);
      i = close;
    } else if (c == '}') {
      if (i + 1 < templ.size() && templ[i + 1] == '}') { ++i; continue; }
      throw ConfigError(cat(where, ": unmatched \"}\" at offset ", i, " (write }} for a literal brace)"));
    }
  }
  return fields;
}

namespace {

std::string render_value(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += "\n";
      out += std::string(1, static_cast<char>('A' + i % 26)) + ". " + render_value(v[i]);
    }
    return out;
  }
  return v.dump();
}

}  // namespace

std::string render_template(const std::string& templ, const nlohmann::json& fields, const std::string& location) {
  std::string out;
  for (size_t i = 0; i < templ.size(); ++i) {
    const char c = templ[i];
    if ((c == '{' || c == '}') && i + 1 < templ.size() && templ[i + 1] == c) {
      out += c;
      ++i;
    } else if (c == '{') {
      const size_t close = templ.find('}', i);
      const std::string name = templ.substr(i + 1, close - i - 1);
      auto it = fields.find(name);
      if (it == fields.end()) throw Error(cat(location, ": the prompt template names field \"", name, "\", which this record lacks"));
      out += render_value(*it);
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

std::string continuation_delimiter(const std::optional<std::string>& configured, const std::string& prompt,
                                   const std::string& continuation) {
  if (configured) return *configured;
  if (prompt.empty()) return "";
  if (std::isspace(static_cast<unsigned char>(prompt.back()))) return "";
  if (!continuation.empty() && std::isspace(static_cast<unsigned char>(continuation.front()))) return "";
  return " ";
}

std::optional<int64_t> parse_gold(const nlohmann::json& value, const std::vector<std::string>& choices) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (!value.is_string()) return std::nullopt;
  std::string s = value.get<std::string>();
  const auto first = s.find_first_not_of(" \t\n");
  const auto last = s.find_last_not_of(" \t\n.)");
  if (first == std::string::npos) return std::nullopt;
  const std::string t = s.substr(first, last - first + 1);
  if (t.size() == 1 && t[0] >= 'A' && t[0] <= 'Z') return t[0] - 'A';
  if (!t.empty() && std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::stoll(t);
  for (size_t i = 0; i < choices.size(); ++i)
    if (choices[i] == s) return static_cast<int64_t>(i);
  return std::nullopt;
}

std::vector<int64_t> deterministic_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

const char* role_name(Role role) {
  switch (role) {
    case Role::kPrompt: return "prompt";
    case Role::kChoices: return "choices";
    case Role::kGold: return "gold";
    case Role::kAnswer: return "answer";
    case Role::kContinuation: return "continuation";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Task data: field mapping, rendering, split

namespace {

// Field names tried in order when `fields` does not map a role: the common layouts
// {query, choices, gold}, {question, choices, answer}, {context, continuation}, {question, answer}.
const std::vector<std::string>& default_fields(Role role) {
  static const std::map<Role, std::vector<std::string>> defaults = {
      {Role::kPrompt, {"query", "question", "prompt", "context", "input"}},
      {Role::kChoices, {"choices", "options", "endings"}},
      {Role::kGold, {"gold", "answer", "label"}},
      {Role::kAnswer, {"answer", "target", "continuation", "output"}},
      {Role::kContinuation, {"continuation", "text", "target"}},
  };
  return defaults.at(role);
}

struct RoleField {
  Role role;
  std::optional<std::string> mapped;  // from utility.data.fields
  bool required;
};

// The record's field for a role, or null when absent (and not required).
const nlohmann::json* find_field(const RoleField& rf, const nlohmann::json& fields, const std::string& location,
                                 const std::string& key_where) {
  if (rf.mapped) {
    auto it = fields.find(*rf.mapped);
    if (it != fields.end()) return &*it;
    if (!rf.required) return nullptr;
    throw Error(cat(location, ": missing field \"", *rf.mapped, "\" (", key_where, ")"));
  }
  for (const auto& name : default_fields(rf.role)) {
    auto it = fields.find(name);
    if (it != fields.end()) return &*it;
  }
  if (!rf.required) return nullptr;
  throw Error(cat(location, ": no field for the ", role_name(rf.role), " (looked for ", join(default_fields(rf.role), ", "),
                  "); name it in ", key_where));
}

std::string expect_text(const nlohmann::json& v, const std::string& location, const std::string& what) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  throw Error(cat(location, ": ", what, " must be a string, got ", json_type_name(v), " ", v.dump()));
}

}  // namespace

TaskData load_task_data(JsonReader& data, const fs::path& base_dir, const DataOptions& options) {
  TaskData task;
  const fs::path given = data.get<std::string>("path");
  task.path = given.is_absolute() ? given : (base_dir / given).lexically_normal();

  // Role -> field mapping.
  std::vector<RoleField> roles;
  for (Role r : options.required) roles.push_back({r, std::nullopt, true});
  for (Role r : options.optional) roles.push_back({r, std::nullopt, false});
  const std::string fields_where = data.where("fields");
  if (data.has("fields")) {
    JsonReader f = data.object("fields");
    for (auto& rf : roles)
      if (f.has(role_name(rf.role))) rf.mapped = f.get<std::string>(role_name(rf.role));
    std::vector<std::string> allowed;
    for (const auto& rf : roles) allowed.push_back(role_name(rf.role));
    for (const auto& item : f.value().items())
      if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
        f.fail(item.key(), cat("not a field this utility uses (it uses: ", join(allowed, ", "), ")"));
  }
  auto role_where = [&](Role r) { return cat(fields_where, ".", role_name(r)); };

  std::optional<std::string> prompt_template;
  if (data.has("prompt_template")) {
    prompt_template = data.get<std::string>("prompt_template");
    template_fields(*prompt_template, data.where("prompt_template"));
  }
  const int64_t few_shot = data.in_range<int64_t>("few_shot", data.get_or<int64_t>("few_shot", 0), 0, 1000);
  const std::string shot_separator = data.get_or<std::string>("few_shot_separator", "\n\n");
  if (data.has("continuation_delimiter")) task.delimiter = data.get<std::string>("continuation_delimiter");
  const int64_t dev_size =
      data.in_range<int64_t>("dev_size", data.get_or<int64_t>("dev_size", 200), 1, int64_t(1) << 40);
  const int64_t validation_size = data.in_range<int64_t>(
      "validation_size", data.get_or<int64_t>("validation_size", 0), 0, int64_t(1) << 40);
  std::optional<int64_t> test_size;
  if (data.has("test_size"))
    test_size = data.in_range<int64_t>("test_size", data.get<int64_t>("test_size"), 0, int64_t(1) << 40);
  const uint64_t seed = data.get_or<uint64_t>("seed", 42);
  const bool shuffle = data.get_or<bool>("shuffle", true);
  data.reject_unknown_keys();

  const std::vector<Record> records = read_records(task.path);

  // A template naming a field the data does not have is a config error: report it against the
  // first record, where the layout is most likely the same for all.
  if (prompt_template) {
    for (const auto& name : template_fields(*prompt_template, data.where("prompt_template"))) {
      if (!records.front().fields.contains(name)) {
        std::vector<std::string> keys;
        for (const auto& item : records.front().fields.items()) keys.push_back(item.key());
        throw ConfigError(cat(data.where("prompt_template"), ": names field {", name, "}, which ",
                              record_location(task.path, records.front()), " lacks (it has: ", join(keys, ", "), ")"));
      }
    }
  }

  std::vector<Example> all;
  all.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& rec = records[i];
    Example ex;
    ex.record = static_cast<int64_t>(i);
    ex.location = record_location(task.path, rec);
    ex.fields = rec.fields;
    for (const auto& rf : roles) {
      if (rf.role == Role::kPrompt && prompt_template) {
        ex.prompt = render_template(*prompt_template, rec.fields, ex.location);
        continue;
      }
      const nlohmann::json* v = find_field(rf, rec.fields, ex.location, role_where(rf.role));
      if (!v) continue;  // an optional role this record lacks
      switch (rf.role) {
        case Role::kPrompt: ex.prompt = expect_text(*v, ex.location, "the prompt"); break;
        case Role::kChoices:
          if (!v->is_array() || v->empty())
            throw Error(cat(ex.location, ": choices must be a non-empty array of strings, got ", v->dump()));
          for (const auto& c : *v) ex.choices.push_back(expect_text(c, ex.location, "each choice"));
          break;
        case Role::kGold: break;  // after choices
        case Role::kAnswer: ex.answer = expect_text(*v, ex.location, "the answer"); break;
        case Role::kContinuation: ex.continuation = expect_text(*v, ex.location, "the continuation"); break;
      }
    }
    for (const auto& rf : roles) {
      if (rf.role != Role::kGold) continue;
      const nlohmann::json* v = find_field(rf, rec.fields, ex.location, role_where(rf.role));
      const auto gold = parse_gold(*v, ex.choices);
      if (!gold)
        throw Error(cat(ex.location, ": gold ", v->dump(), " is neither an index, a letter nor one of the choices"));
      if (*gold < 0 || *gold >= static_cast<int64_t>(ex.choices.size()))
        throw Error(cat(ex.location, ": gold ", v->dump(), " is out of range for ", ex.choices.size(), " choices"));
      ex.gold = *gold;
    }
    all.push_back(std::move(ex));
  }

  // Split: shots first, then dev, then validation, then test, over a seeded permutation of the
  // records (so a validation split takes its examples from what was test before).
  const int64_t n = static_cast<int64_t>(all.size());
  std::vector<int64_t> order(n);
  if (shuffle) order = deterministic_permutation(n, seed);
  else for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (few_shot >= n)
    data.fail("few_shot", cat(few_shot, " examples leave none to evaluate: ", task.path.string(), " has ", n));
  int64_t pos = 0;
  for (; pos < few_shot; ++pos) task.shots.push_back(all[order[pos]]);
  const int64_t dev_end = std::min(n, pos + dev_size);
  if (dev_end - pos < dev_size)
    log::warn(cat(task.path.string(), ": only ", dev_end - pos, " examples for a dev split of ", dev_size,
                  "; the test split is empty"));
  for (; pos < dev_end; ++pos) task.dev.push_back(all[order[pos]]);
  const int64_t validation_end = std::min(n, pos + validation_size);
  if (validation_end - pos < validation_size)
    log::warn(cat(task.path.string(), ": only ", validation_end - pos, " examples left for a validation split of ",
                  validation_size));
  for (; pos < validation_end; ++pos) task.validation.push_back(all[order[pos]]);
  const int64_t test_end = test_size ? std::min(n, pos + *test_size) : n;
  for (; pos < test_end; ++pos) task.test.push_back(all[order[pos]]);

  // Few-shot prefix: each shot is its prompt with its target, in split order.
  if (!task.shots.empty()) {
    std::string prefix;
    for (const auto& shot : task.shots) {
      std::string target = !shot.choices.empty() && shot.gold >= 0 ? shot.choices[shot.gold]
                           : !shot.answer.empty()                   ? shot.answer
                                                                    : shot.continuation;
      prefix += shot.prompt + continuation_delimiter(task.delimiter, shot.prompt, target) + target + shot_separator;
    }
    for (auto* split : {&task.dev, &task.validation, &task.test})
      for (auto& ex : *split) ex.prompt = prefix + ex.prompt;
  }
  return task;
}

}  // namespace modelswarm::utility
