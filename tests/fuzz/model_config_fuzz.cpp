// libFuzzer target: config.json contents -> a ModelConfig the engine can build, or
// modelswarm::Error. A config that parses must satisfy what the transformer relies on.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "modelswarm/common/error.h"
#include "modelswarm/model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;
  try {
    const auto c = modelswarm::model::parse_model_config(json, "fuzz/config.json");
    const bool sane = c.vocab_size > 0 && c.hidden_size > 0 && c.intermediate_size > 0 && c.num_hidden_layers > 0 &&
                      c.num_attention_heads > 0 && c.num_key_value_heads > 0 &&
                      c.num_attention_heads % c.num_key_value_heads == 0 && c.head_dim > 0 && c.head_dim % 2 == 0 &&
                      c.rms_norm_eps > 0 && c.rope_theta > 0 && c.rope_scaling.factor > 0 &&
                      c.max_position_embeddings > 0 && (!c.sliding_window || *c.sliding_window > 0);
    if (!sane) __builtin_trap();
  } catch (const modelswarm::Error&) {
  }
  return 0;
}
