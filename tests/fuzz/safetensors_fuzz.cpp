// libFuzzer target: any byte string given to the safetensors header validator must either parse
// into entries that lie inside the buffer, or raise modelswarm::Error. Nothing else.
#include <cstddef>
#include <cstdint>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto header = modelswarm::safetensors::parse_header(data, size, "fuzz.safetensors");
    for (const auto& e : header.entries) {
      if (header.data_start + e.end > size) __builtin_trap();  // an entry outside the buffer
    }
  } catch (const modelswarm::Error&) {
  }
  return 0;
}
