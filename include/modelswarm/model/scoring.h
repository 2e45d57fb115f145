// Log-likelihood scoring of P particles × R requests in packed, length-bucketed forward passes.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/model/transformer.h"

namespace modelswarm::model {

/// Sum of log p(continuation | context) for every (particle, request): (P, R) float64 on CPU.
/// `particles` (P, D) in `layout` (undefined: the base model, P = 1). Rows (particle, request)
/// are sorted by length and packed into passes of at most `max_batch_tokens` tokens, padding
/// included (a longer row runs alone); log_softmax runs only at continuation positions.
/// Adds the tokens of every pass (padding included) to *tokens_processed when given.
at::Tensor score_loglikelihood(const Transformer& model, const lora::PoolLayout* layout, const at::Tensor& particles,
                               const std::vector<ScoringRequest>& requests, int64_t max_batch_tokens,
                               int64_t* tokens_processed = nullptr);

}  // namespace modelswarm::model
