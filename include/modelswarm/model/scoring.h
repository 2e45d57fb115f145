// Log-likelihood scoring of P particles × R requests in packed, length-bucketed forward passes,
// with the context of requests that share it (the choices of one question) computed once.
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
/// With `share_contexts`, requests with identical contexts form a group: per particle, the
/// context runs once into a KV cache that every continuation of the group then attends to
/// (same results within float rounding). Requests with an empty continuation score 0.
/// Adds the tokens of every pass (padding included) to *tokens_processed when given.
at::Tensor score_loglikelihood(const Transformer& model, const lora::PoolLayout* layout, const at::Tensor& particles,
                               const std::vector<ScoringRequest>& requests, int64_t max_batch_tokens,
                               int64_t* tokens_processed = nullptr, bool share_contexts = true);

}  // namespace modelswarm::model
