// Host-built index tensors for a pass, sent to the device without stalling the host: a plain
// copy to CUDA would wait for all queued work; pinned memory + non_blocking does not.
#pragma once

#include <ATen/ATen.h>

namespace modelswarm::model {

inline at::Tensor host_to_device(const at::Tensor& host, c10::Device device) {
  if (!device.is_cuda()) return host.to(device);
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

}  // namespace modelswarm::model
