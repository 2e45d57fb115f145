// Many particles in one forward pass: every row of a batch names the particle whose LoRA
// weights it uses. At a targeted linear layer, row b computes
//   y_b = x_b·Wᵀ + (x_b·A_pᵀ)·B_pᵀ,  p = row_particle[b],
// with A_p, B_p read as views of the particle tensor through the pool layout (scaling is
// already folded into B). The base matmul is shared by all rows.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <vector>

#include "modelswarm/lora/expert_pool.h"

namespace modelswarm::model {

/// Rows [first_row, first_row + rows) of a batch that all use `particle`.
struct ParticleRun {
  int64_t particle = 0, first_row = 0, rows = 0;
};

struct LoraBatch {
  const lora::PoolLayout* layout = nullptr;
  at::Tensor particles;     // (P, D) on the model's device, in the model's dtype
  at::Tensor row_particle;  // (B) int64 on the model's device: row b uses particle row_particle[b]
  /// Optional, host side, the same assignment as runs covering all B rows in order. When set,
  /// each run's delta is two plain matmuls on a slice of the batch, instead of gathering an
  /// A and a B per row (a (B,R,in) + (B,out,R) copy per module) for batched matmuls.
  std::vector<ParticleRun> runs;
};

/// Runs of equal consecutive entries of `row_particle`.
std::vector<ParticleRun> particle_runs(const std::vector<int64_t>& row_particle);

/// Sets batch.row_particle (copied to `device`) and, when the rows come in runs at least two
/// rows long on average (rows sorted by particle), batch.runs; otherwise clears the runs.
void assign_rows(LoraBatch& batch, const std::vector<int64_t>& row_particle, c10::Device device);

}  // namespace modelswarm::model
