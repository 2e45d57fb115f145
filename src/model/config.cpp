#include "modelswarm/model/config.h"

#include <fstream>
#include <tuple>
#include <utility>

#include "modelswarm/common/error.h"

namespace modelswarm::model {
namespace {

using nlohmann::json;

// Typed access to config.json keys; JSON null counts as absent (transformers writes nulls).
class Keys {
 public:
  Keys(const json& object, std::string source, std::string prefix = "")
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  bool has(const std::string& key) const { return object_.contains(key) && !object_.at(key).is_null(); }

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw Error(cat(source_, ": key \"", prefix_, key, "\": ", problem));
  }

  int64_t integer(const std::string& key) const {
    if (!has(key)) fail(key, "missing (required)");
    const json& v = object_.at(key);
    if (!v.is_number_integer()) fail(key, cat("expected an integer, got ", v.dump()));
    return v.get<int64_t>();
  }
  int64_t integer(const std::string& key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }
  int64_t positive(const std::string& key) const { return check_positive(key, integer(key)); }
  int64_t positive(const std::string& key, int64_t fallback) const {
    return check_positive(key, integer(key, fallback));
  }

  double number(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = object_.at(key);
    if (!v.is_number()) fail(key, cat("expected a number, got ", v.dump()));
    return v.get<double>();
  }
  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = object_.at(key);
    if (!v.is_boolean()) fail(key, cat("expected true or false, got ", v.dump()));
    return v.get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& v = object_.at(key);
    if (!v.is_string()) fail(key, cat("expected a string, got ", v.dump()));
    return v.get<std::string>();
  }
  /// An integer or a list of integers (eos_token_id).
  std::vector<int64_t> integers(const std::string& key) const {
    if (!has(key)) return {};
    const json& v = object_.at(key);
    if (v.is_number_integer()) return {v.get<int64_t>()};
    if (!v.is_array()) fail(key, cat("expected an integer or a list of integers, got ", v.dump()));
    std::vector<int64_t> out;
    for (const json& e : v) {
      if (!e.is_number_integer()) fail(key, cat("expected integers, got ", e.dump()));
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
  Keys object(const std::string& key) const {
    const json& v = object_.at(key);
    if (!v.is_object()) fail(key, cat("expected an object, got ", v.dump()));
    return Keys(v, source_, prefix_ + key + ".");
  }

 private:
  int64_t check_positive(const std::string& key, int64_t v) const {
    if (v <= 0) fail(key, cat("must be positive, got ", v));
    return v;
  }
  const json& object_;
  std::string source_;
  std::string prefix_;
};

// "LlamaForCausalLM" -> (kLlama, kCausalLM); "LlamaForSequenceClassification" -> (kLlama, kSequenceClassification).
std::pair<Family, Head> family_of(const std::string& architecture, const Keys& keys) {
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
void read_rope(const Keys& top, ModelConfig& c) {
  c.rope_theta = top.number("rope_theta", 10000.0);
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (!top.has(key)) continue;
    const Keys rope = top.object(key);
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
  if (!j.is_object()) throw Error(cat(source, ": expected a JSON object"));
  const Keys keys(j, source);
  ModelConfig c;
  if (!keys.has("architectures") || !j.at("architectures").is_array() || j.at("architectures").empty() ||
      !j.at("architectures")[0].is_string())
    keys.fail("architectures", "missing or not a list of architecture names");
  c.architecture = j.at("architectures")[0].get<std::string>();
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
