// The expert pool: n LoRA adapters of one base model, aligned module by module, padded to a
// common rank per module, with each expert's scaling folded into B, and flattened into one
// row of D numbers per expert. Swarm code sees only the [n, D] tensor; model code reads
// per-module views of any [P, D] particle tensor through the layout.
//
// Per module m the row holds A_m (R_m, in_m) then B_m (out_m, R_m), R_m = max rank of m over the
// experts. Zero-padding rank is exact (B·A unchanged); a module missing from an expert is zero.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "modelswarm/lora/adapter.h"

namespace modelswarm::lora {

struct ModuleSlot {
  std::string name;          // "model.layers.0.self_attn.q_proj"
  int64_t rank = 0;          // R: padded rank
  int64_t in_features = 0;
  int64_t out_features = 0;
  int64_t a_offset = 0;      // A (R, in) starts here in a row
  int64_t b_offset = 0;      // B (out, R) starts here
  int64_t end() const { return b_offset + out_features * rank; }
};

class PoolLayout {
 public:
  PoolLayout() = default;
  explicit PoolLayout(std::vector<ModuleSlot> slots);  // offsets are recomputed, in slot order

  const std::vector<ModuleSlot>& slots() const { return slots_; }
  int64_t dim() const { return dim_; }
  const ModuleSlot* find(const std::string& name) const;

  /// Views into a particle tensor `flat` of shape (D) or (P, D): A -> (..., R, in), B -> (..., out, R).
  at::Tensor a_view(const at::Tensor& flat, const ModuleSlot& slot) const;
  at::Tensor b_view(const at::Tensor& flat, const ModuleSlot& slot) const;

  /// One adapter as a row of D numbers (fp32): scaling folded into B, rank padded with zeros,
  /// modules the adapter lacks left at zero. Throws if it has a module or shape the layout lacks.
  at::Tensor flatten(const Adapter& adapter) const;
  /// The inverse: modules with scaling 1 (ΔW = B·A), ready for write_adapter.
  std::vector<Module> unflatten(const at::Tensor& row) const;

  nlohmann::json to_json() const;
  static PoolLayout from_json(const nlohmann::json& json);

 private:
  std::vector<ModuleSlot> slots_;
  std::vector<std::pair<std::string, size_t>> index_;  // sorted by name
  int64_t dim_ = 0;
};

/// Shape of a base-model linear weight (out, in), or nothing when the module does not exist.
using BaseShapeLookup = std::function<std::optional<std::pair<int64_t, int64_t>>(const std::string&)>;

/// The linear weight shapes of a Hugging Face model directory, read from its safetensors
/// headers only (no tensor data), to check a pool against the model before loading it.
BaseShapeLookup base_shapes_of(const std::filesystem::path& model_dir);

struct ExpertPool {
  PoolLayout layout;
  std::vector<std::string> names;       // expert directory names, one per row
  std::vector<Adapter> adapters;        // as read from disk (for reports)
  at::Tensor weights;                   // (n, D) fp32 on CPU
  std::string base_model_name_or_path;  // from the first expert's config
  bool fan_in_fan_out = false;

  /// Loads and aligns the adapters. Shapes must agree between experts and, when `base` is
  /// given, with the base model's linear weights. Errors name the expert and the module.
  static ExpertPool load(const std::vector<std::filesystem::path>& directories,
                         const BaseShapeLookup& base = nullptr);
  static ExpertPool from_adapters(std::vector<Adapter> adapters, std::vector<std::string> names,
                                  const BaseShapeLookup& base = nullptr);

  int64_t size() const { return weights.size(0); }
};

}  // namespace modelswarm::lora
