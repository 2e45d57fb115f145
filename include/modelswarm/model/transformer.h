// A decoder-only transformer (Llama, Mistral, Qwen2/3, Gemma) whose every targeted linear layer
// can add a different particle's LoRA delta per batch row (model/lora_batch.h).
//
// Letters used in shape comments:
//   B = batch rows, T = new tokens this pass, S = keys seen (cache + new), D = hidden size,
//   F = intermediate size, H = query heads, K = key/value heads, hd = head dim,
//   V = vocab size, R = LoRA rank, P = particles.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/config.h"
#include "modelswarm/model/lora_batch.h"

namespace modelswarm::model {

/// A linear layer y = x·Wᵀ + b under its Hugging Face module name.
struct Linear {
  std::string name;  // "model.layers.0.self_attn.q_proj"
  at::Tensor weight; // (out, in)
  at::Tensor bias;   // (out) or undefined
};

/// The seven linear layers LoRA may target, in this order in LayerWeights::linears().
enum Projection { kQ, kK, kV, kO, kGate, kUp, kDown, kNumProjections };

struct LayerWeights {
  at::Tensor input_norm;          // (D)
  at::Tensor post_attention_norm; // (D)
  at::Tensor q_norm, k_norm;      // (hd) Qwen3 only
  std::array<Linear, kNumProjections> proj;  // q (H·hd, D), k/v (K·hd, D), o (D, H·hd),
                                             // gate/up (F, D), down (D, F)
};

struct TransformerWeights {
  at::Tensor embed_tokens;  // (V, D)
  std::vector<LayerWeights> layers;
  at::Tensor final_norm;    // (D)
  at::Tensor lm_head;       // (V, D): embed_tokens itself when tied; undefined for Head::kSequenceClassification
};

/// Keys and values of earlier tokens, one slot per position, for incremental decoding.
struct KVCache {
  std::vector<at::Tensor> k, v;  // per layer (B, K, capacity, hd)
  int64_t length = 0;            // slots filled
  int64_t capacity() const { return k.empty() ? 0 : k[0].size(2); }
};

/// A computed prefix that several rows continue, read-only: row b of a pass attends to the
/// first `cache->length` slots of cache row `rows[b]` (the choices of one multiple-choice
/// question after its shared prompt). Repeats keys/values one layer at a time, not the whole cache.
struct SharedPrefix {
  const KVCache* cache = nullptr;
  at::Tensor rows;  // (B) int64 on the model's device
};

class Transformer {
 public:
  /// Loads DIR/config.json and its safetensors weights onto `device` in `dtype`. A missing or
  /// mis-shaped tensor is an Error naming the tensor with expected and actual shapes. A
  /// sequence-classification checkpoint loads without lm_head (its score head is the caller's:
  /// model/reward_model.h).
  static Transformer load(const std::filesystem::path& model_dir, c10::Device device, c10::ScalarType dtype);
  /// From tensors in memory (HF names); `source` names their origin in errors.
  Transformer(ModelConfig config, const std::map<std::string, at::Tensor>& tensors, c10::Device device,
              c10::ScalarType dtype, const std::string& source = "weights");

  const ModelConfig& config() const { return config_; }
  c10::Device device() const { return device_; }
  c10::ScalarType dtype() const { return dtype_; }
  const TransformerWeights& weights() const { return weights_; }

  /// Base linear shapes (out, in) by HF module name, for lora::ExpertPool validation.
  lora::BaseShapeLookup base_shapes() const;
  /// Throws an Error naming the first layout module that the model lacks or whose shape differs.
  void check_layout(const lora::PoolLayout& layout) const;

  /// The decoder stack. tokens (B,T) int64; positions (B,T) int64 RoPE positions; key_valid
  /// (B,S) bool, false at padding slots, S = cache length + T (only T without a cache).
  /// With a cache, the new keys/values are written at slots [length, length+T) and length advances.
  /// With a shared prefix (exclusive with a cache), S = prefix length + T and nothing is stored.
  /// Returns the final-normed hidden states (B,T,D) in the model dtype.
  at::Tensor hidden_states(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& key_valid,
                           KVCache* cache = nullptr, const LoraBatch* lora = nullptr,
                           const SharedPrefix* prefix = nullptr) const;
  /// lm_head: (..., D) -> (..., V) float32; an Error for a model without lm_head. Below float32
  /// the matmul's output is rounded to the model dtype: bfloat16 rounds a logit of 16 to a step of
  /// 1/16, enough to tie two choices or two next tokens exactly (see rounds_logits).
  at::Tensor logits(const at::Tensor& hidden) const;
  /// True when logits() rounds (any dtype below float32): scorers and greedy decoding then take the
  /// logits that decide from exact_logits.
  bool rounds_logits() const { return dtype_ != at::kFloat; }
  /// The logits of `tokens` (n,k) at the rows of `hidden` (n,D), accumulated and returned in
  /// float32 from the lm_head's rows: (n,k), without logits()'s rounding. O(n·k·D).
  at::Tensor exact_logits(const at::Tensor& hidden, const at::Tensor& tokens) const;
  /// Full-sequence logits (B,T,V) float32 for a batch whose padding is marked by `valid` (B,T)
  /// (left or right padding); positions count the valid tokens before each slot.
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& valid, const LoraBatch* lora = nullptr) const;

  /// An empty cache for `rows` rows and up to `capacity` positions.
  KVCache new_cache(int64_t rows, int64_t capacity) const;

 private:
  at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight) const;
  at::Tensor rope_inverse_frequencies() const;  // (hd/2) float32

  ModelConfig config_;
  c10::Device device_;
  c10::ScalarType dtype_;
  TransformerWeights weights_;
  at::Tensor inv_freq_;  // (hd/2) float32 on device
};

/// RoPE positions for padded rows: the number of valid slots before each slot (B,S) -> (B,S).
at::Tensor positions_from_valid(const at::Tensor& valid);

}  // namespace modelswarm::model
