// Reward models: Hugging Face *ForSequenceClassification checkpoints (LlamaForSequenceClassification,
// Qwen2ForSequenceClassification, ...). The decoder runs as for a causal LM; a linear `score` head
// (num_labels, D), no bias, is read at each text's last token, as transformers pools it.
// Letters: see transformer.h (B, T, D); R = texts scored, L = num_labels.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "modelswarm/model/evaluator.h"
#include "modelswarm/model/transformer.h"

namespace modelswarm::tokenizer { class Tokenizer; }

namespace modelswarm::model {

/// What the utilities need from a reward model (tests substitute a scripted one).
class RewardModel {
 public:
  virtual ~RewardModel() = default;

  /// One reward per token sequence (each non-empty, BOS included when the model wants it):
  /// (R) float64 on CPU.
  virtual at::Tensor score(const std::vector<std::vector<int64_t>>& sequences) = 0;

  virtual const tokenizer::Tokenizer& tokenizer() const = 0;

  /// Tokens processed by forward passes so far, padding included.
  virtual int64_t tokens_processed() const = 0;
};

/// Checks that DIR is a sequence-classification checkpoint with a one-label score head, from
/// config.json and the safetensors headers only (no weights read), so that a config naming the
/// wrong directory fails before any search. Throws Error naming DIR and the problem (a causal LM
/// has no score head; num_labels must be 1). Returns the architecture ("LlamaForSequenceClassification").
std::string check_reward_model(const std::filesystem::path& model_dir);

/// Loads DIR (weights and tokenizer) on the engine's device and dtype, after check_reward_model.
/// Scoring packs texts into passes of at most options.max_batch_tokens tokens.
std::unique_ptr<RewardModel> load_reward_model(const std::filesystem::path& model_dir, const EngineOptions& options);

/// score_head (L, D) applied to the final hidden state of each sequence's last token:
/// (R, L) float32 on CPU. Sequences are sorted by length and right-padded into passes of at most
/// `max_batch_tokens` tokens, padding included (a longer sequence runs alone). Adds the tokens of
/// every pass to *tokens_processed when given. Call under InferenceMode.
at::Tensor score_last_token(const Transformer& decoder, const at::Tensor& score_head,
                            const std::vector<std::vector<int64_t>>& sequences, int64_t max_batch_tokens,
                            int64_t* tokens_processed = nullptr);

}  // namespace modelswarm::model
