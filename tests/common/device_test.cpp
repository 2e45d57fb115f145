// How a config's device and dtype names resolve: auto's dtype follows what the CPU multiplies
// natively, and every choice says why (the log line and report.json's dtype_reason).
#include "modelswarm/common/device.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "modelswarm/common/error.h"

namespace modelswarm {
namespace {

const c10::Device kCpu(c10::kCPU);

TEST(Dtype, AutoOnACpuWithBfloat16InstructionsIsBfloat16AndSaysWhich) {
  for (const char* instructions : {"avx512_bf16", "amx_bf16"}) {
    const DtypeChoice choice = choose_dtype("auto", kCpu, instructions);
    EXPECT_EQ(choice.dtype, c10::kBFloat16);
    EXPECT_EQ(choice.reason, std::string("auto: the CPU multiplies bfloat16 natively (") + instructions + ")");
  }
}

TEST(Dtype, AutoOnACpuWithoutThemIsFloat32) {
  const DtypeChoice choice = choose_dtype("auto", kCpu, "");
  EXPECT_EQ(choice.dtype, c10::kFloat);
  EXPECT_NE(choice.reason.find("no bfloat16 matmul instructions"), std::string::npos) << choice.reason;
  EXPECT_EQ(describe(choice).rfind("float32 (auto: ", 0), 0u) << describe(choice);
}

TEST(Dtype, AutoOnCudaIsBfloat16) {
  EXPECT_EQ(choose_dtype("auto", c10::Device(c10::kCUDA, 0), "").dtype, c10::kBFloat16);
}

TEST(Dtype, ANamedDtypeIsTakenAsRequestedWhateverTheCpu) {
  for (const char* cpu : {"", "avx512_bf16"}) {
    EXPECT_EQ(choose_dtype("float32", kCpu, cpu).dtype, c10::kFloat);
    EXPECT_EQ(choose_dtype("fp32", kCpu, cpu).dtype, c10::kFloat);
    EXPECT_EQ(choose_dtype("bfloat16", kCpu, cpu).dtype, c10::kBFloat16);
    EXPECT_EQ(choose_dtype("float16", kCpu, cpu).dtype, c10::kHalf);
    EXPECT_EQ(choose_dtype("float32", kCpu, cpu).reason, "requested");
    EXPECT_EQ(choose_dtype("bfloat16", c10::Device(c10::kCUDA, 0), cpu).reason, "requested");
  }
  EXPECT_EQ(choose_dtype("bfloat16", kCpu, "avx512_bf16").reason, "requested");
  EXPECT_NE(choose_dtype("bfloat16", kCpu, "").reason.find("slower than float32 here"), std::string::npos);
  EXPECT_THROW(choose_dtype("float64", kCpu, ""), ConfigError);
}

// The detection agrees with the kernel's reading of the same CPUID bits (Linux only).
TEST(Dtype, ThisCpusBfloat16InstructionsAreThoseProcCpuinfoLists) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(cpuinfo, line))
    if (line.rfind("flags", 0) == 0) {
      flags = line + " ";
      break;
    }
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags on this system";
  auto has = [&](const std::string& flag) { return flags.find(" " + flag + " ") != std::string::npos; };
  const std::string expected = has("amx_bf16") ? "amx_bf16" : has("avx512_bf16") ? "avx512_bf16" : "";
  EXPECT_EQ(cpu_bfloat16_instructions(), expected) << flags;
  EXPECT_EQ(parse_dtype("auto", kCpu), expected.empty() ? c10::kFloat : c10::kBFloat16);
}

}  // namespace
}  // namespace modelswarm
