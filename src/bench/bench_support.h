// The bench's tools (bench/bench.h): timing and peak memory, the random model and particles,
// the synthetic workloads, and FLOP counts from the model's shape.
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/bench/bench.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/model/transformer.h"

namespace modelswarm::bench {

// ---------------------------------------------------------------------------------------------
// Measurement

void synchronize(const c10::Device& device);
void reset_peak_memory(const c10::Device& device);
int64_t peak_memory(const c10::Device& device);  // CUDA max allocated or CPU peak RSS, bytes

/// Runs `run` until min_seconds have passed, after one warm-up run, which is the measurement
/// itself when it lasted at least max(min_seconds, 1 s): a second run of a long phase would add
/// minutes, and its first-touch allocations are noise at that length.
template <typename Run>
BenchFigure measure(const std::string& section, const std::string& name, const c10::Device& device,
                    double min_seconds, Run run) {
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); };
  BenchFigure f;
  f.section = section;
  f.name = name;
  reset_peak_memory(device);
  auto start = Clock::now();
  run();
  synchronize(device);
  double elapsed = seconds(start);
  if (elapsed >= std::max(min_seconds, 1.0)) {
    f.runs = 1;
  } else {
    start = Clock::now();
    do {
      run();
      synchronize(device);
      ++f.runs;
      elapsed = seconds(start);
    } while (elapsed < min_seconds);
  }
  f.seconds_per_run = elapsed / static_cast<double>(f.runs);
  f.peak_memory_bytes = peak_memory(device);
  log::info(cat("bench: ", name, ": ", f.runs, " runs, ", f.seconds_per_run, " s each"));
  return f;
}

// ---------------------------------------------------------------------------------------------
// The random model and its particles

/// The config.json of a preset (a Hugging Face LlamaConfig).
nlohmann::json preset_json(const std::string& name);
std::map<std::string, at::Tensor> random_weights(const model::ModelConfig& c, const at::TensorOptions& options);
/// Rank-`rank` slots on all seven projections of every layer.
lora::PoolLayout full_layout(const model::Transformer& m, int64_t rank);
/// base weights with particle `row` (D) merged into every targeted linear: W' = W + B·A.
std::map<std::string, at::Tensor> merged_weights(const std::map<std::string, at::Tensor>& base,
                                                 const lora::PoolLayout& layout, const at::Tensor& row);

// ---------------------------------------------------------------------------------------------
// Workloads: random token ids in [3, V) (0-2 are <unk>, <s>, </s>); prompts start with <s>.

struct MultipleChoiceSet {
  std::vector<std::vector<int64_t>> prompts;               // (Q) prompt_tokens each
  std::vector<std::vector<std::vector<int64_t>>> choices;  // (Q, C) choice_tokens each
  std::vector<int64_t> gold;                               // (Q)
  std::vector<model::ScoringRequest> requests() const;     // (Q·C) question-major
};

MultipleChoiceSet random_mc_set(const BenchOptions& o, int64_t vocab_size);
std::vector<std::vector<int64_t>> random_prompts(int64_t count, int64_t length, int64_t vocab_size);

// ---------------------------------------------------------------------------------------------
// FLOPs

class FlopCounter {
 public:
  FlopCounter(const model::Transformer& m, const lora::PoolLayout* layout);
  /// T new tokens of one row after `past` cached keys, logits at `scored` positions, with LoRA or not.
  double row(int64_t T, int64_t past, int64_t scored, bool lora) const;
  /// Merging one particle into the weights.
  double merge() const { return merge_; }

 private:
  double linear_ = 0;     // 2·linear params: per token
  double lm_head_ = 0;    // 2·V·D: per scored position
  double attention_ = 0;  // 4·H·hd·L: per (query, key) pair
  double lora_ = 0;       // per token
  double merge_ = 0;
};

}  // namespace modelswarm::bench
