// Padded training batches and the completion-only loss.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "modelswarm/model/transformer.h"
#include "modelswarm/train/trainer.h"

namespace modelswarm::train {

struct Batch {
  at::Tensor tokens;     // (B,T) int64, right-padded with 0
  at::Tensor valid;      // (B,T) bool, false at padding
  at::Tensor loss_mask;  // (B,T-1) float: 1 where token t+1 is a completion token to predict
};

/// The examples at `indices`, right-padded to the longest.
Batch make_batch(const std::vector<TokenizedExample>& data, const std::vector<int64_t>& indices);

/// Mean cross-entropy of the completion tokens (a scalar tensor, differentiable).
at::Tensor completion_loss(const model::Transformer& model, const Batch& batch, const model::LoraBatch* lora);

}  // namespace modelswarm::train
