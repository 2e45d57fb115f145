// Throughput of the engine on a random Llama of a chosen size, every figure against the matmul
// peak libtorch reaches on the same device and dtype in the same run. Workloads (phases):
//   forward:  full forward passes, base model / P particles batched / particle by particle;
//   mc:       a synthetic multiple-choice set (Q questions × C choices) scored as a search scores
//             it: batched with prompt sharing, batched without, particle by particle (merged);
//   generate: greedy generation of G prompts per particle, batched vs particle by particle;
//   pso:      one real Model Swarms step (swarm/model_swarms.h) on (P, D) positions, against one evaluation.
// "Particle by particle" is the reference implementation's structure without its disk I/O: each
// particle's LoRA merged into the weights (W' = W + B·A), then scored alone.
// FLOPs are counted from the model's shape for the work each path does, padding excluded:
//   linear layers 2·params per token, lm_head 2·V·D per scored position, attention 4·H·hd per
//   (query, visible key) pair and layer, LoRA 2·R·(in+out) per module and token, a merge
//   2·out·in·R per module.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "modelswarm/model/config.h"

namespace modelswarm::bench {

struct BenchOptions {
  std::string preset = "tiny";   // tiny (stories260K-sized), 25m, 100m, 1b
  std::vector<std::string> phases = {"forward", "mc", "generate", "pso"};
  int64_t batch = 16;            // forward: rows per particle
  int64_t seq = 128;             // forward: tokens per row
  int64_t particles = 4;         // P
  int64_t compare_particles = 0; // particles of the comparison-only paths (unshared, one by one); 0 = P
  int64_t rank = 8;              // LoRA rank on all seven linear modules of every layer
  int64_t questions = 200;       // mc: Q
  int64_t choices = 4;           // mc: C
  int64_t prompt_tokens = 32;    // mc and generate: tokens per prompt (BOS included)
  int64_t choice_tokens = 8;     // mc: tokens per choice
  int64_t gen_prompts = 16;      // generate: G prompts per particle
  int64_t gen_tokens = 16;       // generate: new tokens per prompt (no EOS: all run to the end)
  int64_t max_batch_tokens = 8192;  // the engine's default
  std::string device = "auto";
  std::string dtype = "auto";
  double min_seconds = 1.0;      // each measurement repeats until this much time has passed
  int64_t matmul_size = 0;       // N of the N×N matmuls; 0 = 1024 on CPU, 8192 on CUDA
  uint64_t seed = 0;
  std::string export_dir;        // non-empty: write the model, particles and MC set there (bench_export.h)
};

/// One timed measurement; figures are per run (one run = one full pass over its workload).
struct BenchFigure {
  std::string section;           // "forward", "mc", "generate", "pso"
  std::string name;
  int64_t particles = 0;         // particles one run covers (0: no particles)
  int64_t runs = 0;
  double seconds_per_run = 0;
  int64_t tokens_per_run = 0;    // tokens the forward passes process, padding excluded; 0 when none
  double flops_per_run = 0;
  int64_t peak_memory_bytes = 0; // CUDA max allocated, or CPU peak RSS, during the measurement
  double flops_per_second() const { return flops_per_run / seconds_per_run; }
  double tokens_per_second() const { return tokens_per_run / seconds_per_run; }
  double seconds_per_particle() const { return seconds_per_run / static_cast<double>(particles); }
};

/// A ratio between two figures, e.g. the speed-up of one path over another per particle.
struct BenchComparison {
  std::string name;
  double value = 0;
  std::string meaning;
};

struct BenchReport {
  BenchOptions options;
  model::ModelConfig config;
  int64_t parameters = 0;
  int64_t particle_dim = 0;       // D of the (P, D) particle tensor
  int threads = 0;                // libtorch intra-op threads
  std::string device, dtype, memory_kind;  // memory_kind: "max allocated" or "cpu peak rss"
  std::string dtype_reason;               // why dtype (choose_dtype): "requested", or auto's reason
  BenchFigure matmul;                     // the peak of `dtype`: figures are fractions of it
  std::map<std::string, BenchFigure> matmul_peaks;  // float32's and bfloat16's peaks, by dtype name
  std::vector<BenchFigure> figures;  // in phase order
  std::vector<BenchComparison> comparisons;

  const BenchFigure* find(const std::string& name) const;
  nlohmann::json to_json() const;
  std::string to_text() const;
};

/// The config of a preset; throws ConfigError naming the known presets for any other name.
model::ModelConfig bench_preset(const std::string& name);

BenchReport run_bench(const BenchOptions& options);

}  // namespace modelswarm::bench
