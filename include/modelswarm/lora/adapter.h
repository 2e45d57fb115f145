// PEFT LoRA adapters on disk: adapter_config.json + adapter_model.safetensors.
// Math (PEFT): y = W·x + s·B·(A·x), A (r, in), B (out, r), s = lora_alpha / r
// (rsLoRA: lora_alpha / sqrt(r)); r and alpha may be overridden per module by
// rank_pattern / alpha_pattern (regex keys matched as "(.*\.)?(KEY)$", first match wins).
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace modelswarm::lora {

struct AdapterConfig {
  int64_t r = 8;
  double lora_alpha = 8;
  bool use_rslora = false;
  bool fan_in_fan_out = false;
  std::map<std::string, int64_t> rank_pattern;   // regex key -> rank
  std::map<std::string, double> alpha_pattern;   // regex key -> alpha
  std::vector<std::string> rank_pattern_order;   // keys in file order: the first match wins
  std::vector<std::string> alpha_pattern_order;
  nlohmann::json target_modules;                 // list, regex string or "all-linear"
  std::string base_model_name_or_path;
  std::string task_type = "CAUSAL_LM";

  int64_t rank_for(const std::string& module) const;
  double alpha_for(const std::string& module) const;
  /// s = alpha / r, or alpha / sqrt(r) with rsLoRA, for this module.
  double scaling_for(const std::string& module) const;
};

/// One adapted linear layer. `name` is the module path inside the base model
/// ("model.layers.0.self_attn.q_proj"), without PEFT's "base_model.model." prefix.
struct Module {
  std::string name;
  at::Tensor A;      // (r, in)
  at::Tensor B;      // (out, r)
  double scaling;    // s for this module
};

struct Adapter {
  std::filesystem::path directory;
  AdapterConfig config;
  std::vector<Module> modules;  // sorted in model order (layer index, then name)
  const Module* find(const std::string& name) const;
};

/// Reads and validates an adapter directory; refuses what the search cannot combine (DoRA,
/// embedding LoRA, LoRA biases, modules_to_save, pickle-only weights) with a message saying so.
Adapter read_adapter(const std::filesystem::path& directory);

/// Parses adapter_config.json contents (exposed for tests and fuzzing); `source` names the file.
AdapterConfig parse_adapter_config(const nlohmann::ordered_json& json, const std::string& source);

/// Writes a PEFT adapter directory atomically, which Hugging Face PEFT loads as is. Each module
/// keeps its own rank and scaling (alpha = s·r, through rank_pattern / alpha_pattern where a
/// module differs from the most common rank); particles have s = 1. Names must be distinct.
void write_adapter(const std::filesystem::path& directory, const std::vector<Module>& modules,
                   const std::string& base_model_name_or_path,
                   const nlohmann::json& extra_metadata = nlohmann::json::object());

/// Orders module names as a model does: numeric layer index, then name.
bool module_order(const std::string& a, const std::string& b);

}  // namespace modelswarm::lora
