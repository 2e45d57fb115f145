// libFuzzer target: a task config -> TaskConfig or ConfigError, never anything else.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "modelswarm/common/error.h"
#include "modelswarm/config/task_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;
  try {
    modelswarm::TaskConfig::parse(json, "/fuzz/task.json");
  } catch (const modelswarm::Error&) {
  }
  return 0;
}
