// Supervised training with the engine's own Transformer (autograd through plain ATen ops):
// LoRA fine-tuning on a frozen base (`modelswarm finetune`, the demo's experts) and full-weight
// training (the demo's base model). Loss: mean cross-entropy over completion tokens only.
// Deterministic on CPU for a given seed: batches come from seeded permutations and every
// random initialisation from a seeded generator.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "modelswarm/lora/adapter.h"
#include "modelswarm/model/transformer.h"

namespace modelswarm::train {

/// One training sequence: BOS + prompt + completion (+ EOS) token ids; the loss covers the
/// tokens from `prompt_tokens` on.
struct TokenizedExample {
  std::vector<int64_t> tokens;
  int64_t prompt_tokens = 0;
};

struct TrainOptions {
  int64_t steps = 200;
  int64_t batch_size = 16;
  double learning_rate = 1e-3;   // peak, after warmup; cosine decay to 10% of it at the last step
  int64_t warmup_steps = 0;
  double weight_decay = 0.0;     // AdamW (decoupled)
  uint64_t seed = 0;             // batch order (and, for LoRA, the A initialisation)
  int64_t log_every = 50;        // steps between loss log lines; 0: none
  std::string label = "train";   // prefix of the log lines
};

struct LoraOptions {
  int64_t rank = 8;
  double alpha = 16;
  /// Projection names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj) or "all-linear".
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
};

struct LoraResult {
  std::vector<lora::Module> modules;  // A (r, in), B (out, r), scaling alpha / r: PEFT's own layout
  std::vector<double> losses;         // mean training loss of each step's batch
};

/// Fine-tunes a LoRA adapter on the frozen `model` (float32). PEFT's initialisation: A
/// kaiming-uniform (a = √5) from a generator seeded with options.seed, B zero; so experts of one
/// base trained with one seed start from the same A. Throws ConfigError on an unknown target module.
LoraResult train_lora(const model::Transformer& model, const std::vector<TokenizedExample>& data,
                      const LoraOptions& lora_options, const TrainOptions& options);

/// Trains every tensor of `weights` (HF names, float32 CPU leaf tensors) in place, as the weights
/// of a model with `config`. Returns the per-step losses.
std::vector<double> train_full(const model::ModelConfig& config, std::map<std::string, at::Tensor>& weights,
                               const std::vector<TokenizedExample>& data, const TrainOptions& options);

/// Mean completion-token cross-entropy of `data` under `model` (with `lora` when given), no grad.
double mean_loss(const model::Transformer& model, const std::vector<TokenizedExample>& data,
                 const model::LoraBatch* lora = nullptr, int64_t batch_size = 64);

}  // namespace modelswarm::train
