// Throughput of the engine on a random Llama of a chosen size: what libtorch's matmul reaches on
// this device/dtype, and how close full forward passes get to it for the base model, for P LoRA
// particles batched together, and for the particle-by-particle path (each particle merged into
// the weights and scored alone). FLOPs are counted from the model's shape, not measured:
//   forward = 2·(linear + lm_head params)·tokens + 2·2·H·hd·T(T+1)/2 per row and layer (causal
//   QKᵀ and AV), LoRA rows add 2·R·(in+out) per module and token, a merge 2·out·in·R per module.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "modelswarm/model/config.h"

namespace modelswarm::model {

struct BenchOptions {
  std::string preset = "tiny";   // tiny (stories260K-sized), 25m, 100m, 1b
  int64_t batch = 16;            // rows per particle
  int64_t seq = 128;             // tokens per row
  int64_t particles = 4;         // P
  int64_t rank = 8;              // LoRA rank on all seven linear modules of every layer
  std::string device = "auto";
  std::string dtype = "auto";
  double min_seconds = 1.0;      // each measurement repeats until this much time has passed
  int64_t matmul_size = 0;       // N of the N×N matmuls; 0 = 1024 on CPU, 8192 on CUDA
  uint64_t seed = 0;
};

/// One timed measurement; figures are per run (one run = one full pass over its tokens).
struct BenchFigure {
  std::string name;
  int64_t runs = 0;
  double seconds_per_run = 0;
  int64_t tokens_per_run = 0;    // 0 for the matmul
  double flops_per_run = 0;
  int64_t peak_memory_bytes = 0; // CUDA max allocated, or CPU peak RSS, during the measurement
  double flops_per_second() const { return flops_per_run / seconds_per_run; }
  double tokens_per_second() const { return tokens_per_run / seconds_per_run; }
};

struct BenchReport {
  BenchOptions options;
  ModelConfig config;
  int64_t parameters = 0;
  int64_t particle_dim = 0;       // D of the (P, D) particle tensor
  std::string device, dtype, memory_kind;  // memory_kind: "cuda max allocated" or "cpu peak rss"
  BenchFigure matmul;
  std::vector<BenchFigure> forwards;  // base, batched particles, particle by particle

  nlohmann::json to_json() const;
  std::string to_text() const;
};

/// The config of a preset; throws ConfigError naming the known presets for any other name.
ModelConfig bench_preset(const std::string& name);

BenchReport run_bench(const BenchOptions& options);

}  // namespace modelswarm::model
