// Batched generation on token ids with a KV cache: prompts of different lengths are left-padded
// into one batch (RoPE positions count only real tokens), each row may use its own particle.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "modelswarm/model/lora_batch.h"
#include "modelswarm/model/transformer.h"

namespace modelswarm::model {

struct SamplingOptions {
  int64_t max_new_tokens = 32;
  double temperature = 0.0;       // 0 = greedy (argmax)
  double top_p = 1.0;             // nucleus sampling: smallest set of tokens with this much mass
  uint64_t seed = 0;              // sampling is reproducible for a seed, on any device
  std::vector<int64_t> eos_ids;   // a row stops at (and drops) the first of these
};

/// Asked after every new token of a row that is still running, with all the tokens it generated
/// so far; true stops the row (stop strings are checked this way on decoded text).
using StopCheck = std::function<bool(int64_t row, const std::vector<int64_t>& generated)>;

/// New tokens per prompt (EOS excluded). `lora` rows follow the prompts' order.
std::vector<std::vector<int64_t>> generate_ids(const Transformer& model, const std::vector<std::vector<int64_t>>& prompts,
                                               const LoraBatch* lora, const SamplingOptions& options,
                                               const StopCheck& stop = nullptr);

/// The next token per row from logits (B,V): argmax when temperature is 0, else a top-p sample
/// drawn with `generator` (a CPU generator). Returns (B) int64 on CPU.
at::Tensor choose_tokens(const at::Tensor& logits, double temperature, double top_p, at::Generator& generator);

}  // namespace modelswarm::model
