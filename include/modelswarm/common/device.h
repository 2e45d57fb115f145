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

/// The CPU instructions that multiply bfloat16 natively ("amx_bf16" or "avx512_bf16", as
/// /proc/cpuinfo names them), or "" when it has none: there libtorch's bfloat16 matmuls convert
/// every element and run slower than float32 (docs/PERFORMANCE.md, "Choosing the dtype").
std::string cpu_bfloat16_instructions();

/// A dtype and why it was chosen, for the log and report.json.
struct DtypeChoice {
  c10::ScalarType dtype;
  std::string reason;
};

/// "auto", "float32", "bfloat16" or "float16" (fp32/bf16/fp16 too). auto is bfloat16 on CUDA, and
/// on a CPU whose `bfloat16_instructions` (default: this CPU's) are not empty; float32 otherwise.
DtypeChoice choose_dtype(const std::string& name, const c10::Device& device,
                         const std::string& bfloat16_instructions = cpu_bfloat16_instructions());

/// "float32 (auto: the CPU has no ...)": the dtype and its reason, for a log line.
std::string describe(const DtypeChoice& choice);

/// choose_dtype's dtype.
c10::ScalarType parse_dtype(const std::string& name, const c10::Device& device);

std::string dtype_name(c10::ScalarType dtype);

/// Once per process: libtorch's intra-op threads from the machine's cores, and (glibc) large
/// blocks kept on the heap between passes instead of mapped afresh for each (see device.cpp).
void configure_runtime();

}  // namespace modelswarm
