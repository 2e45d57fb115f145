#include "modelswarm/common/device.h"

#include <torch/cuda.h>

#include <ATen/Parallel.h>
#include <ATen/Context.h>

#include <cstdlib>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "modelswarm/common/error.h"

namespace modelswarm {

std::vector<std::string> expand_devices(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    if (name != "cuda:all") {
      out.push_back(name);
      continue;
    }
    const int64_t count = at::hasCUDA() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
    if (count == 0) throw ConfigError("device 'cuda:all' requested but no CUDA device is available");
    for (int64_t i = 0; i < count; ++i) out.push_back(cat("cuda:", i));
  }
  return out;
}

c10::Device parse_device(const std::string& name) {
  const bool cuda_available = at::hasCUDA();
  if (name == "auto") return cuda_available ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!cuda_available)
      throw ConfigError(cat("device '", name, "' requested but no CUDA device is available"));
    try {
      return c10::Device(name);
    } catch (const std::exception&) {
      throw ConfigError(cat("device '", name, "' is not a valid device (expected cuda or cuda:N)"));
    }
  }
  throw ConfigError(cat("device '", name, "' is not one of auto, cpu, cuda, cuda:N"));
}

std::string cpu_bfloat16_instructions() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // CPUID says what the core has, XCR0 whether the OS saves the registers it needs.
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return "";
  unsigned xcr0_low = 0, xcr0_high = 0;
  __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  const bool avx512_state = (xcr0_low & 0xE6) == 0xE6;      // SSE, AVX, opmask, ZMM
  const bool amx_state = (xcr0_low & 0x60000) == 0x60000;   // tile config and tile data
  if (__get_cpuid_max(0, nullptr) < 7) return "";
  __cpuid_count(7, 0, a, b, c, d);
  if (amx_state && (d & (1u << 22))) return "amx_bf16";
  __cpuid_count(7, 1, a, b, c, d);
  if (avx512_state && (a & (1u << 5))) return "avx512_bf16";
#endif
  return "";
}

DtypeChoice choose_dtype(const std::string& name, const c10::Device& device, const std::string& bfloat16_instructions) {
  if (name == "float32" || name == "fp32") return {c10::kFloat, "requested"};
  if (name == "bfloat16" || name == "bf16") {
    if (device.is_cpu() && bfloat16_instructions.empty())
      return {c10::kBFloat16, "requested, though this CPU has no bfloat16 matmul instructions (avx512_bf16, amx_bf16): "
                              "slower than float32 here"};
    return {c10::kBFloat16, "requested"};
  }
  if (name == "float16" || name == "fp16") return {c10::kHalf, "requested"};
  if (name != "auto") throw ConfigError(cat("dtype '", name, "' is not one of auto, float32, bfloat16, float16"));
  if (!device.is_cpu()) return {c10::kBFloat16, cat("auto: bfloat16 on ", device.str())};
  if (!bfloat16_instructions.empty())
    return {c10::kBFloat16, cat("auto: the CPU multiplies bfloat16 natively (", bfloat16_instructions, ")")};
  return {c10::kFloat,
          "auto: the CPU has no bfloat16 matmul instructions (avx512_bf16, amx_bf16), so bfloat16 would run slower "
          "than float32"};
}

std::string describe(const DtypeChoice& choice) { return cat(dtype_name(choice.dtype), " (", choice.reason, ")"); }

c10::ScalarType parse_dtype(const std::string& name, const c10::Device& device) {
  return choose_dtype(name, device).dtype;
}

std::string dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat: return "float32";
    case c10::kBFloat16: return "bfloat16";
    case c10::kHalf: return "float16";
    default: return c10::toString(dtype);
  }
}

void configure_runtime() {
  static const bool done = [] {
    // OMP_NUM_THREADS, when set, wins: torchrun sets it to 1 for each of several ranks on a node.
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const char* omp = std::getenv("OMP_NUM_THREADS");
    const int requested = omp ? std::atoi(omp) : 0;
    at::set_num_threads(requested > 0 ? requested : static_cast<int>(cores));
#if defined(__GLIBC__)
    // glibc maps blocks over its mmap threshold (32 MB at most) afresh and unmaps them at free, so
    // a pass's activations and KV cache (tens to hundreds of MB on CPU) were page-faulted and
    // zeroed by the kernel on every pass. Kept on the heap (up to 1 GiB of free memory retained),
    // multiple-choice scoring of the 100m bench ran 19 % faster (docs/PERFORMANCE.md).
    constexpr int kOneGiB = 1 << 30;
    mallopt(M_MMAP_THRESHOLD, kOneGiB);
    mallopt(M_TRIM_THRESHOLD, kOneGiB);
#endif
    return true;
  }();
  (void)done;
}

}  // namespace modelswarm
