// A small random Llama built in memory, and LoRA layouts over it, for the engine's invariants.
#pragma once

#include <map>
#include <string>

#include "bench/bench_support.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/transformer.h"

namespace modelswarm::test {

constexpr int64_t kRandomVocab = 50, kRandomDim = 32, kRandomFfn = 40, kRandomLayers = 2;

/// Llama: V 50, D 32, F 40, 2 layers, 4 query heads over 2 key/value heads (hd 8), seeded.
model::Transformer random_llama();
/// The model's weights under their HF names (to rebuild a modified copy).
std::map<std::string, at::Tensor> weights_by_name(const model::Transformer& m);
using bench::full_layout;     // rank-`rank` slots on all seven projections of every layer
using bench::merged_weights;  // base weights with one particle merged in: W + B·A

}  // namespace modelswarm::test
