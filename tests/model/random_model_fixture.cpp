#include "model/random_model_fixture.h"

#include <ATen/ATen.h>

#include "modelswarm/common/error.h"
#include "modelswarm/model/config.h"

namespace modelswarm::test {

model::Transformer random_llama() {
  const int64_t V = kRandomVocab, D = kRandomDim, F = kRandomFfn;
  auto config = model::parse_model_config(
      {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", V}, {"hidden_size", D}, {"intermediate_size", F},
       {"num_hidden_layers", kRandomLayers}, {"num_attention_heads", 4}, {"num_key_value_heads", 2}},
      "random");
  at::manual_seed(11);
  std::map<std::string, at::Tensor> t;
  t["model.embed_tokens.weight"] = at::randn({V, D});
  t["model.norm.weight"] = 1 + 0.1 * at::randn({D});
  t["lm_head.weight"] = 0.2 * at::randn({V, D});
  for (int64_t l = 0; l < kRandomLayers; ++l) {
    const std::string p = cat("model.layers.", l, ".");
    t[p + "input_layernorm.weight"] = 1 + 0.1 * at::randn({D});
    t[p + "post_attention_layernorm.weight"] = 1 + 0.1 * at::randn({D});
    t[p + "self_attn.q_proj.weight"] = 0.2 * at::randn({D, D});
    t[p + "self_attn.k_proj.weight"] = 0.2 * at::randn({16, D});
    t[p + "self_attn.v_proj.weight"] = 0.2 * at::randn({16, D});
    t[p + "self_attn.o_proj.weight"] = 0.2 * at::randn({D, D});
    t[p + "mlp.gate_proj.weight"] = 0.2 * at::randn({F, D});
    t[p + "mlp.up_proj.weight"] = 0.2 * at::randn({F, D});
    t[p + "mlp.down_proj.weight"] = 0.2 * at::randn({D, F});
  }
  return model::Transformer(config, t, c10::Device(c10::kCPU), at::kFloat, "random");
}

std::map<std::string, at::Tensor> weights_by_name(const model::Transformer& m) {
  std::map<std::string, at::Tensor> t;
  const auto& w = m.weights();
  t["model.embed_tokens.weight"] = w.embed_tokens;
  t["model.norm.weight"] = w.final_norm;
  t["lm_head.weight"] = w.lm_head;
  for (size_t l = 0; l < w.layers.size(); ++l) {
    t[cat("model.layers.", l, ".input_layernorm.weight")] = w.layers[l].input_norm;
    t[cat("model.layers.", l, ".post_attention_layernorm.weight")] = w.layers[l].post_attention_norm;
    for (const auto& linear : w.layers[l].proj) t[linear.name + ".weight"] = linear.weight;
  }
  return t;
}

}  // namespace modelswarm::test
