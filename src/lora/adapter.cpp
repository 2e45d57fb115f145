#include "modelswarm/lora/adapter.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/regex.h"
#include "modelswarm/formats/hf_json.h"
#include "modelswarm/formats/safetensors.h"

namespace modelswarm::lora {
namespace fs = std::filesystem;

namespace {

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr const char* kPeftPrefix = "base_model.model.";

// PEFT's get_pattern_key: the first key K with re.match(rf"(.*\.)?({K})$", module).
template <typename Map>
const typename Map::mapped_type* match_pattern(const Map& patterns, const std::vector<std::string>& order,
                                               const std::string& module) {
  for (const auto& key : order) {
    Regex re("(.*\\.)?(" + key + ")$", "adapter_config.json pattern key");
    if (re.full_match(module)) return &patterns.at(key);
  }
  return nullptr;
}

[[noreturn]] void refuse(const fs::path& dir, const std::string& what) {
  throw Error(cat(dir.string(), ": ", what, "; the swarm search cannot combine it (only plain LoRA A/B weights)"));
}

int64_t layer_index(const std::string& name) {
  // "model.layers.12.mlp.up_proj" -> 12; names without a layer index sort first.
  static const std::string marker = ".layers.";
  auto pos = name.find(marker);
  if (pos == std::string::npos) return -1;
  pos += marker.size();
  int64_t value = 0;
  bool any = false;
  while (pos < name.size() && std::isdigit(static_cast<unsigned char>(name[pos]))) {
    value = value * 10 + (name[pos++] - '0');
    any = true;
  }
  return any ? value : -1;
}

}  // namespace

bool module_order(const std::string& a, const std::string& b) {
  const int64_t la = layer_index(a), lb = layer_index(b);
  return la != lb ? la < lb : a < b;
}

int64_t AdapterConfig::rank_for(const std::string& module) const {
  const int64_t* r_m = match_pattern(rank_pattern, rank_pattern_order, module);
  return r_m ? *r_m : r;
}

double AdapterConfig::alpha_for(const std::string& module) const {
  const double* a = match_pattern(alpha_pattern, alpha_pattern_order, module);
  return a ? *a : lora_alpha;
}

double AdapterConfig::scaling_for(const std::string& module) const {
  const double rank = static_cast<double>(rank_for(module));
  return alpha_for(module) / (use_rslora ? std::sqrt(rank) : rank);
}

const Module* Adapter::find(const std::string& name) const {
  for (const auto& m : modules)
    if (m.name == name) return &m;
  return nullptr;
}

AdapterConfig parse_adapter_config(const nlohmann::ordered_json& json, const std::string& source) {
  const hf::OrderedJsonFields fields(json, source);
  AdapterConfig c;
  const std::string peft_type = fields.string("peft_type", "LORA");
  if (peft_type != "LORA") fields.fail("peft_type", cat("only LORA adapters are supported, got ", peft_type));
  // Ranks are checked before the cast: a double beyond int64 range does not convert.
  constexpr double kMaxRank = 1 << 20;
  const double r = fields.number("r", 8);
  if (r < 1 || r > kMaxRank || r != std::floor(r))
    fields.fail("r", cat("must be an integer in [1, ", kMaxRank, "], got ", fields.at("r").dump()));
  c.r = static_cast<int64_t>(r);
  c.lora_alpha = fields.number("lora_alpha", 8);
  c.use_rslora = fields.boolean("use_rslora", false);
  c.fan_in_fan_out = fields.boolean("fan_in_fan_out", false);
  if (fields.boolean("use_dora", false))
    fields.fail("use_dora", "DoRA adapters (magnitude vectors) are not supported by the swarm search");
  if (fields.has("bias") && fields.at("bias").is_string() && fields.at("bias").get<std::string>() != "none")
    fields.fail("bias", cat("LoRA biases (\"", fields.at("bias").get<std::string>(),
                            "\") are not supported by the swarm search"));
  if (fields.has("lora_bias") && fields.at("lora_bias").is_boolean() && fields.at("lora_bias").get<bool>())
    fields.fail("lora_bias", "LoRA biases are not supported by the swarm search");
  if (fields.has("modules_to_save") &&
      !(fields.at("modules_to_save").is_array() && fields.at("modules_to_save").empty()))
    fields.fail("modules_to_save", "fully fine-tuned modules are not supported by the swarm search");
  for (const char* pattern_key : {"rank_pattern", "alpha_pattern"}) {
    if (!fields.has(pattern_key)) continue;
    if (!fields.at(pattern_key).is_object()) fields.fail(pattern_key, "expected an object of regex -> number");
    const hf::OrderedJsonFields patterns = fields.object(pattern_key);
    for (const std::string& pattern : patterns.keys()) {
      const auto& value = patterns.at(pattern);
      if (!value.is_number()) patterns.fail(pattern, "expected a number");
      Regex check("(.*\\.)?(" + pattern + ")$", cat(source, ": ", pattern_key));
      if (std::string(pattern_key) == "rank_pattern") {
        const double v = value.get<double>();
        if (v < 1 || v > kMaxRank || v != std::floor(v))
          patterns.fail(pattern, cat("rank must be an integer in [1, ", kMaxRank, "]"));
        c.rank_pattern[pattern] = static_cast<int64_t>(v);
        c.rank_pattern_order.push_back(pattern);
      } else {
        c.alpha_pattern[pattern] = value.get<double>();
        c.alpha_pattern_order.push_back(pattern);
      }
    }
  }
  if (json.contains("target_modules")) c.target_modules = nlohmann::json::parse(json["target_modules"].dump());
  if (fields.has("base_model_name_or_path") && fields.at("base_model_name_or_path").is_string())
    c.base_model_name_or_path = fields.at("base_model_name_or_path").get<std::string>();
  if (fields.has("task_type") && fields.at("task_type").is_string())
    c.task_type = fields.at("task_type").get<std::string>();
  return c;
}

Adapter read_adapter(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(cat(dir.string(), ": not an adapter directory"));
  const fs::path config_path = dir / kConfigFile;
  if (!fs::exists(config_path)) throw Error(cat(dir.string(), ": no ", kConfigFile, " (not a PEFT adapter directory)"));
  const fs::path weights_path = dir / kWeightsFile;
  if (!fs::exists(weights_path)) {
    if (fs::exists(dir / "adapter_model.bin"))
      throw Error(cat(dir.string(), ": only adapter_model.bin (a pickle file) was found; modelswarm never loads pickle "
                                    "files: re-save the adapter with safe_serialization=True"));
    throw Error(cat(dir.string(), ": no ", kWeightsFile));
  }

  // ordered_json keeps rank_pattern / alpha_pattern keys in file order ("first match wins").
  nlohmann::ordered_json config_json;
  try {
    config_json = nlohmann::ordered_json::parse(read_file(config_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(config_path.string(), ": invalid JSON: ", e.what()));
  }
  Adapter adapter;
  adapter.directory = dir;
  adapter.config = parse_adapter_config(config_json, config_path.string());

  const auto file = safetensors::File::open(weights_path);
  std::map<std::string, std::pair<at::Tensor, at::Tensor>> found;  // module -> (A, B)
  static const Regex key_re(R"(^base_model\.model\.(.+)\.lora_([AB])(?:\.[A-Za-z0-9_\-]+)?\.weight$)");
  // First refuse what cannot be combined, whatever order the tensors are stored in.
  for (const auto& e : file.entries()) {
    const std::string& name = e.name;
    if (name.find("lora_magnitude_vector") != std::string::npos) refuse(dir, cat("tensor ", name, " is a DoRA magnitude vector"));
    if (name.find("lora_embedding_") != std::string::npos) refuse(dir, cat("tensor ", name, " is an embedding LoRA"));
    if (name.find("modules_to_save") != std::string::npos) refuse(dir, cat("tensor ", name, " belongs to modules_to_save"));
    if (name.find(".lora_B.bias") != std::string::npos || name.find(".lora_A.bias") != std::string::npos)
      refuse(dir, cat("tensor ", name, " is a LoRA bias"));
  }
  for (const auto& e : file.entries()) {
    const std::string& name = e.name;
    std::vector<std::string> groups;
    if (!key_re.search(name, &groups)) {
      throw Error(cat(weights_path.string(), ": unexpected tensor '", name,
                      "' (expected base_model.model.<module>.lora_A.weight / lora_B.weight)"));
    }
    if (e.shape.size() != 2) throw Error(cat(weights_path.string(), ": tensor '", name, "' must be 2-D"));
    if (!at::isFloatingType(safetensors::to_scalar_type(e.dtype)))
      throw Error(cat(weights_path.string(), ": tensor '", name, "' has non-float dtype ", safetensors::dtype_name(e.dtype)));
    auto& slot = found[groups[1]];
    at::Tensor t = file.tensor(e).to(at::kFloat);
    if (!at::isfinite(t).all().item<bool>())
      throw Error(cat(weights_path.string(), ": tensor '", name, "' holds NaN or infinite values"));
    (groups[2] == "A" ? slot.first : slot.second) = t;
  }
  if (found.empty()) throw Error(cat(weights_path.string(), ": holds no LoRA tensors"));

  for (auto& [module, ab] : found) {
    auto& [A, B] = ab;
    if (!A.defined() || !B.defined())
      throw Error(cat(weights_path.string(), ": module ", module, " has lora_", A.defined() ? "A" : "B", " but no lora_",
                      A.defined() ? "B" : "A"));
    const int64_t r = adapter.config.rank_for(module);
    if (A.size(0) != B.size(1))
      throw Error(cat(weights_path.string(), ": module ", module, ": lora_A has rank ", A.size(0), " but lora_B has rank ",
                      B.size(1)));
    if (A.size(0) != r)
      throw Error(cat(weights_path.string(), ": module ", module, ": tensors have rank ", A.size(0),
                      " but adapter_config.json says r = ", r));
    adapter.modules.push_back(Module{module, A, B, adapter.config.scaling_for(module)});
  }
  std::sort(adapter.modules.begin(), adapter.modules.end(),
            [](const Module& a, const Module& b) { return module_order(a.name, b.name); });
  return adapter;
}

void write_adapter(const fs::path& dir, const std::vector<Module>& modules, const std::string& base_model,
                   const nlohmann::json& extra_metadata) {
  if (modules.empty()) throw Error(cat(dir.string(), ": cannot write an adapter without modules"));
  // The most common rank becomes r; other modules get rank_pattern / alpha_pattern entries with
  // their full names (PEFT matches "(.*\.)?(NAME)$", which a full module path matches exactly).
  std::map<int64_t, int> rank_count;
  std::set<std::string> names;
  for (const auto& m : modules) {
    if (!names.insert(m.name).second) throw Error(cat(dir.string(), ": module ", m.name, " given twice"));
    rank_count[m.A.size(0)]++;
  }
  const int64_t r = std::max_element(rank_count.begin(), rank_count.end(),
                                     [](auto& a, auto& b) { return a.second < b.second; })->first;
  const double common_scaling = modules.front().scaling;
  nlohmann::ordered_json rank_pattern = nlohmann::ordered_json::object();
  nlohmann::ordered_json alpha_pattern = nlohmann::ordered_json::object();
  nlohmann::ordered_json target_modules = nlohmann::ordered_json::array();
  safetensors::NamedTensors tensors;
  for (const auto& m : modules) {
    const int64_t rank = m.A.size(0);
    if (rank != r) rank_pattern[m.name] = rank;
    if (rank != r || m.scaling != common_scaling) alpha_pattern[m.name] = m.scaling * static_cast<double>(rank);
    target_modules.push_back(m.name);
    tensors.emplace_back(std::string(kPeftPrefix) + m.name + ".lora_A.weight", m.A.to(at::kFloat));
    tensors.emplace_back(std::string(kPeftPrefix) + m.name + ".lora_B.weight", m.B.to(at::kFloat));
  }
  nlohmann::ordered_json config = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"base_model_name_or_path", base_model},
      {"r", r},
      {"lora_alpha", common_scaling * static_cast<double>(r)},
      {"lora_dropout", 0.0},
      {"use_rslora", false},
      {"use_dora", false},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"target_modules", target_modules},
      {"rank_pattern", rank_pattern},
      {"alpha_pattern", alpha_pattern},
      {"modules_to_save", nullptr},
      {"inference_mode", true},
  };
  if (!extra_metadata.empty()) config["modelswarm"] = nlohmann::ordered_json::parse(extra_metadata.dump());
  write_directory_atomic(dir, [&](const fs::path& tmp) {
    safetensors::write(tmp / kWeightsFile, tensors);
    write_text_atomic(tmp / kConfigFile, config.dump(2) + "\n");
  });
}

}  // namespace modelswarm::lora
