// Device and dtype are chosen once, at run time, from strings given by the user.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>
#include <vector>

namespace modelswarm {

/// "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
c10::Device parse_device(const std::string& name);

/// A config's device list with "cuda:all" replaced by cuda:0 … cuda:N-1 (an error without CUDA).
std::vector<std::string> expand_devices(const std::vector<std::string>& names);

/// "auto" (bfloat16 on CUDA, float32 on CPU), "float32", "bfloat16" or "float16".
c10::ScalarType parse_dtype(const std::string& name, const c10::Device& device);

std::string dtype_name(c10::ScalarType dtype);

/// Once per process: libtorch's intra-op threads from the machine's cores, and (glibc) large
/// blocks kept on the heap between passes instead of mapped afresh for each (see device.cpp).
void configure_runtime();

}  // namespace modelswarm
