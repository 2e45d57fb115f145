// libFuzzer target: adapter_config.json contents -> a validated AdapterConfig or modelswarm::Error.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "modelswarm/common/error.h"
#include "modelswarm/lora/adapter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json = nlohmann::ordered_json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;
  try {
    auto config = modelswarm::lora::parse_adapter_config(json, "adapter_config.json");
    (void)config.scaling_for("model.layers.0.self_attn.q_proj");
  } catch (const modelswarm::Error&) {
  }
  return 0;
}
