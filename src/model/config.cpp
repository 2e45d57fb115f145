#include "modelswarm/model/config.h"

#include <fstream>
#include <tuple>
#include <utility>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/hf_json.h"

namespace modelswarm::model {
namespace {

using nlohmann::json;

// "LlamaForCausalLM" -> (kLlama, kCausalLM); "LlamaForSequenceClassification" -> (kLlama, kSequenceClassification).
std::pair<Family, Head> family_of(const std::string& architecture, const hf::JsonFields& keys) {
  static const std::pair<const char*, Family> kFamilies[] = {
      {"Llama", Family::kLlama}, {"Mistral", Family::kMistral}, {"Qwen2", Family::kQwen2},
      {"Qwen3", Family::kQwen3}, {"Gemma", Family::kGemma}};
  static const std::pair<const char*, Head> kHeads[] = {{"ForCausalLM", Head::kCausalLM},
                                                        {"ForSequenceClassification", Head::kSequenceClassification}};
  for (const auto& [family_name, family] : kFamilies)
    for (const auto& [head_name, head] : kHeads)
      if (architecture == std::string(family_name) + head_name) return {family, head};
  keys.fail("architectures", cat("unsupported architecture \"", architecture,
                                 "\" (supported: Llama, Mistral, Qwen2, Qwen3 and Gemma, each ForCausalLM or "
                                 "ForSequenceClassification)"));
}

// rope_parameters (transformers >= 5) holds rope_theta and the scaling; older files have
// rope_theta at the top and rope_scaling beside it.
void read_rope(const hf::JsonFields& top, ModelConfig& c) {
  c.rope_theta = top.number("rope_theta", 10000.0);
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (!top.has(key)) continue;
    const hf::JsonFields rope = top.object(key);
    c.rope_theta = rope.number("rope_theta", c.rope_theta);
    std::string type = rope.string("rope_type", rope.string("type", "default"));
    if (type == "default") continue;
    if (type != "linear" && type != "llama3")
      rope.fail("rope_type", cat("unsupported RoPE scaling \"", type, "\" (supported: default, linear, llama3)"));
    c.rope_scaling.type = type;
    c.rope_scaling.factor = rope.number("factor", 1.0);
    if (c.rope_scaling.factor <= 0) rope.fail("factor", cat("must be positive, got ", c.rope_scaling.factor));
    if (type == "llama3") {
      c.rope_scaling.low_freq_factor = rope.number("low_freq_factor", 1.0);
      c.rope_scaling.high_freq_factor = rope.number("high_freq_factor", 4.0);
      c.rope_scaling.original_max_position_embeddings = rope.positive("original_max_position_embeddings", 8192);
      if (c.rope_scaling.high_freq_factor <= c.rope_scaling.low_freq_factor)
        rope.fail("high_freq_factor", "must exceed low_freq_factor");
    }
  }
  if (c.rope_theta <= 0) top.fail("rope_theta", cat("must be positive, got ", c.rope_theta));
}

}  // namespace

ModelConfig parse_model_config(const json& j, const std::string& source) {
  const hf::JsonFields keys(j, source);
  ModelConfig c;
  if (!keys.has("architectures") || !keys.at("architectures").is_array() || keys.at("architectures").empty() ||
      !keys.at("architectures")[0].is_string())
    keys.fail("architectures", "missing or not a list of architecture names");
  c.architecture = keys.at("architectures")[0].get<std::string>();
  std::tie(c.family, c.head) = family_of(c.architecture, keys);
  const bool gemma = c.family == Family::kGemma;

  c.vocab_size = keys.positive("vocab_size");
  c.hidden_size = keys.positive("hidden_size");
  c.intermediate_size = keys.positive("intermediate_size");
  c.num_hidden_layers = keys.positive("num_hidden_layers");
  c.num_attention_heads = keys.positive("num_attention_heads");
  c.num_key_value_heads = keys.positive("num_key_value_heads", c.num_attention_heads);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    keys.fail("num_key_value_heads", cat(c.num_key_value_heads, " does not divide num_attention_heads ",
                                         c.num_attention_heads));
  if (!gemma && !keys.has("head_dim") && c.hidden_size % c.num_attention_heads != 0)
    keys.fail("head_dim", cat("missing, and hidden_size ", c.hidden_size, " is not a multiple of num_attention_heads ",
                              c.num_attention_heads));
  c.head_dim = keys.positive("head_dim", gemma ? 256 : c.hidden_size / c.num_attention_heads);
  if (c.head_dim % 2 != 0) keys.fail("head_dim", cat("must be even for RoPE, got ", c.head_dim));

  if (gemma) {
    // Older Gemma files say "gelu" but transformers always ran the tanh approximation.
    std::string act = keys.string("hidden_activation", keys.string("hidden_act", "gelu_pytorch_tanh"));
    if (act != "gelu" && act != "gelu_pytorch_tanh")
      keys.fail("hidden_act", cat("unsupported activation \"", act, "\" for Gemma (expected gelu_pytorch_tanh)"));
    c.hidden_act = "gelu_pytorch_tanh";
  } else {
    c.hidden_act = keys.string("hidden_act", "silu");
    if (c.hidden_act != "silu" && c.hidden_act != "gelu_pytorch_tanh")
      keys.fail("hidden_act", cat("unsupported activation \"", c.hidden_act, "\" (supported: silu, gelu_pytorch_tanh)"));
  }
  c.rms_norm_eps = keys.number("rms_norm_eps", 1e-6);
  if (c.rms_norm_eps <= 0) keys.fail("rms_norm_eps", cat("must be positive, got ", c.rms_norm_eps));
  read_rope(keys, c);
  c.max_position_embeddings = keys.positive("max_position_embeddings", 2048);
  c.attention_bias = keys.boolean("attention_bias", false);
  c.mlp_bias = keys.boolean("mlp_bias", false);
  c.tie_word_embeddings = keys.boolean("tie_word_embeddings", gemma);
  if (c.family == Family::kMistral && keys.has("sliding_window"))
    c.sliding_window = keys.positive("sliding_window");
  if (c.family == Family::kQwen2 && keys.boolean("use_sliding_window", false))
    keys.fail("use_sliding_window", "Qwen2 sliding-window layers are not supported");
  if (keys.has("bos_token_id")) c.bos_token_id = keys.integer("bos_token_id");
  c.eos_token_ids = keys.integers("eos_token_id");

  c.norm_adds_one = gemma;
  c.scale_embeddings = gemma;
  c.qk_norm = c.family == Family::kQwen3;
  c.qkv_bias = c.family == Family::kQwen2 || c.attention_bias;
  c.o_bias = c.family != Family::kQwen2 && c.attention_bias;
  return c;
}

ModelConfig read_model_config(const std::filesystem::path& model_dir) {
  const auto path = model_dir / "config.json";
  std::ifstream in(path);
  if (!in) throw Error(cat(path.string(), ": cannot open (is ", model_dir.string(), " a Hugging Face model directory?)"));
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw Error(cat(path.string(), ": invalid JSON: ", e.what()));
  }
  return parse_model_config(j, path.string());
}

}  // namespace modelswarm::model
