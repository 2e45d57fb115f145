// libFuzzer target: a PEFT adapter directory. The input is adapter_config.json, a NUL byte,
// then adapter_model.safetensors; both are written to a scratch directory and read with
// lora::read_adapter, which must return modules whose shapes agree with their config, or
// throw modelswarm::Error. Nothing else.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "modelswarm/common/error.h"
#include "modelswarm/lora/adapter.h"

namespace {

namespace fs = std::filesystem;

const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("modelswarm-adapter-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

void write(const fs::path& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  if (!nul) return 0;
  const size_t config_size = static_cast<size_t>(nul - data);
  const fs::path& dir = scratch_dir();
  write(dir / "adapter_config.json", data, config_size);
  write(dir / "adapter_model.safetensors", nul + 1, size - config_size - 1);
  try {
    const auto adapter = modelswarm::lora::read_adapter(dir);
    for (const auto& m : adapter.modules) {
      const int64_t r = adapter.config.rank_for(m.name);
      const bool consistent = m.A.dim() == 2 && m.B.dim() == 2 && m.A.size(0) == r && m.B.size(1) == r &&
                              std::isfinite(m.scaling);
      if (!consistent) __builtin_trap();
    }
  } catch (const modelswarm::Error&) {
  }
  return 0;
}
