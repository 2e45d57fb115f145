// Many particles in one forward pass: every row of a batch names the particle whose LoRA
// weights it uses. At a targeted linear layer, row b computes
//   y_b = x_b·Wᵀ + (x_b·A_pᵀ)·B_pᵀ,  p = row_particle[b],
// with A_p, B_p read as views of the particle tensor through the pool layout (scaling is
// already folded into B). The base matmul is shared by all rows.
#pragma once

#include <ATen/core/Tensor.h>

#include "modelswarm/lora/expert_pool.h"

namespace modelswarm::model {

struct LoraBatch {
  const lora::PoolLayout* layout = nullptr;
  at::Tensor particles;     // (P, D) on the model's device, in the model's dtype
  at::Tensor row_particle;  // (B) int64 on the model's device: row b uses particle row_particle[b]
};

}  // namespace modelswarm::model
