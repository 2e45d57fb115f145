#include "modelswarm/formats/gguf_convert.h"

#include <ATen/ATen.h>

#include <optional>
#include <regex>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/formats/llama2c.h"
#include "modelswarm/formats/safetensors.h"

namespace modelswarm::gguf {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What differs between the architectures this converter knows, on top of the shared Llama layout.
struct Architecture {
  const char* gguf_name;
  const char* hf_class;
  const char* model_type;
  bool permuted_qk;       // llama.cpp interleaved the RoPE pairs of q/k rows (llama only)
  bool norms_plus_one;    // llama.cpp stored Gemma's norm weights w as w + 1 (transformers adds the 1 itself)
};

const Architecture kArchitectures[] = {
    {"llama", "LlamaForCausalLM", "llama", true, false},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", false, false},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", false, false},
    {"gemma", "GemmaForCausalLM", "gemma", false, true},
};

const Architecture& architecture_of(const File& file) {
  const json& name = file.require("general.architecture");
  MS_CHECK(name.is_string(), file.path().string(), ": metadata general.architecture is not a string");
  for (const auto& a : kArchitectures)
    if (name == a.gguf_name) return a;
  throw Error(cat(file.path().string(), ": architecture ", name.get<std::string>(),
                  " is not supported (supported: llama, qwen2, qwen3, gemma)"));
}

// `<arch>.<key>` as an integer or number, naming the key when it is missing or of another type.
int64_t positive_integer(const File& file, const std::string& key) {
  const json& v = file.require(key);
  MS_CHECK(v.is_number_integer() && v.get<int64_t>() > 0, file.path().string(), ": metadata ", key,
           " must be a positive integer, not ", describe(v));
  return v.get<int64_t>();
}

double positive_number(const File& file, const std::string& key, double fallback) {
  if (!file.metadata().contains(key)) return fallback;
  const json& v = file.metadata()[key];
  MS_CHECK(v.is_number() && v.get<double>() > 0, file.path().string(), ": metadata ", key,
           " must be a positive number, not ", describe(v));
  return v.get<double>();
}

// head_count_kv may be one number or (in some files) one per layer, all equal for the models here.
int64_t kv_heads(const File& file, const std::string& arch, int64_t heads) {
  const std::string key = cat(arch, ".attention.head_count_kv");
  if (!file.metadata().contains(key)) return heads;
  const json& v = file.metadata()[key];
  if (v.is_array()) {
    MS_CHECK(!v.empty() && v[0].is_number_integer(), file.path().string(), ": metadata ", key, " is empty");
    for (const auto& x : v)
      MS_CHECK(x == v[0], file.path().string(), ": metadata ", key,
               " differs between layers, which these architectures do not do");
    return v[0].get<int64_t>();
  }
  return positive_integer(file, key);
}

const TensorInfo& tensor_info(const File& file, const std::string& name) {
  const TensorInfo* t = file.find(name);
  MS_CHECK(t != nullptr, file.path().string(), ": tensor ", name, " is missing");
  return *t;
}

std::optional<int64_t> optional_id(const File& file, const std::string& key) {
  if (!file.metadata().contains(key)) return std::nullopt;
  const json& v = file.metadata()[key];
  MS_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0, file.path().string(), ": metadata ", key,
           " is not a token id");
  return v.get<int64_t>();
}

json rope_scaling(const File& file, const std::string& arch) {
  const std::string key = cat(arch, ".rope.scaling.type");
  if (!file.metadata().contains(key) || file.metadata()[key] == "none") return nullptr;
  MS_CHECK(file.metadata()[key] == "linear", file.path().string(), ": metadata ", key, " = ",
           describe(file.metadata()[key]), " is not supported (none and linear are)");
  return {{"rope_type", "linear"}, {"factor", positive_number(file, cat(arch, ".rope.scaling.factor"), 1.0)}};
}

// llama.cpp's tensor names (llama-arch.cpp) and their transformers counterparts, per layer.
const std::pair<const char*, const char*> kLayerTensors[] = {
    {"attn_norm.weight", "input_layernorm.weight"},   {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},      {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},      {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_q.bias", "self_attn.q_proj.bias"},          {"attn_k.bias", "self_attn.k_proj.bias"},
    {"attn_v.bias", "self_attn.v_proj.bias"},          {"attn_q_norm.weight", "self_attn.q_norm.weight"},
    {"attn_k_norm.weight", "self_attn.k_norm.weight"}, {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},           {"ffn_down.weight", "mlp.down_proj.weight"},
};

// The Hugging Face name of a GGUF tensor, or "" for one the conversion does not carry over.
std::string hf_name(const std::string& name, int64_t layers) {
  if (name == "token_embd.weight") return "model.embed_tokens.weight";
  if (name == "output_norm.weight") return "model.norm.weight";
  if (name == "output.weight") return "lm_head.weight";
  static const std::regex layer(R"(blk\.(\d+)\.(.+))");
  std::smatch m;
  if (!std::regex_match(name, m, layer)) return "";
  const int64_t index = std::stoll(m[1].str().substr(0, 9));
  if (index >= layers) return "";
  for (const auto& [gguf, hf] : kLayerTensors)
    if (m[2] == gguf) return cat("model.layers.", index, ".", hf);
  return "";
}

std::string dump(const json& j) { return j.dump(2) + "\n"; }

}  // namespace

json hf_config(const File& file) {
  const Architecture& a = architecture_of(file);
  const std::string arch = a.gguf_name;
  const int64_t hidden = positive_integer(file, arch + ".embedding_length");
  const int64_t heads = positive_integer(file, arch + ".attention.head_count");
  const std::string head_dim_key = arch + ".attention.key_length";
  const int64_t head_dim = file.metadata().contains(head_dim_key) ? positive_integer(file, head_dim_key)
                                                                  : hidden / heads;
  const TensorInfo& embedding = tensor_info(file, "token_embd.weight");
  MS_CHECK(embedding.shape.size() == 2 && embedding.shape[1] == hidden, file.path().string(),
           ": tensor token_embd.weight should be (vocab, ", hidden, ")");
  MS_CHECK(!file.find("rope_freqs.weight"), file.path().string(),
           ": tensor rope_freqs.weight (Llama 3.1 RoPE scaling) is not supported");

  json config = {
      {"architectures", {a.hf_class}},
      {"model_type", a.model_type},
      {"vocab_size", embedding.shape[0]},
      {"hidden_size", hidden},
      {"intermediate_size", positive_integer(file, arch + ".feed_forward_length")},
      {"num_hidden_layers", positive_integer(file, arch + ".block_count")},
      {"num_attention_heads", heads},
      {"num_key_value_heads", kv_heads(file, arch, heads)},
      {"head_dim", head_dim},
      {"hidden_act", arch == "gemma" ? "gelu_pytorch_tanh" : "silu"},
      {"max_position_embeddings", positive_integer(file, arch + ".context_length")},
      {"rms_norm_eps", positive_number(file, arch + ".attention.layer_norm_rms_epsilon", 1e-6)},
      {"rope_theta", positive_number(file, arch + ".rope.freq_base", 10000.0)},
      {"attention_bias", arch == "qwen2" || file.find("blk.0.attn_q.bias") != nullptr},
      {"tie_word_embeddings", file.find("output.weight") == nullptr},
      {"torch_dtype", "float32"},
      {"use_cache", true},
  };
  if (arch == "qwen2") config.erase("attention_bias");  // implied by the class
  const json scaling = rope_scaling(file, arch);
  if (!scaling.is_null()) config["rope_scaling"] = scaling;
  if (const auto bos = optional_id(file, "tokenizer.ggml.bos_token_id")) config["bos_token_id"] = *bos;
  if (const auto eos = optional_id(file, "tokenizer.ggml.eos_token_id")) config["eos_token_id"] = *eos;
  if (const auto pad = optional_id(file, "tokenizer.ggml.padding_token_id")) config["pad_token_id"] = *pad;
  return config;
}

std::map<std::string, at::Tensor> hf_weights(const File& file, const json& config, at::ScalarType dtype) {
  const Architecture& a = architecture_of(file);
  const int64_t layers = config.at("num_hidden_layers").get<int64_t>();
  std::map<std::string, at::Tensor> out;
  for (const TensorInfo& info : file.tensors()) {
    const std::string name = hf_name(info.name, layers);
    if (name.empty()) continue;  // e.g. rope_freqs: derived from the config, not a weight
    at::Tensor w = file.read(info);
    if (a.permuted_qk && (info.name.find(".attn_q.") != std::string::npos ||
                          info.name.find(".attn_k.") != std::string::npos)) {
      const bool q = info.name.find(".attn_q.") != std::string::npos;
      const int64_t heads = config.at(q ? "num_attention_heads" : "num_key_value_heads").get<int64_t>();
      w = w.dim() == 1 ? llama2c::interleaved_to_rotate_half(w.unsqueeze(1), heads).squeeze(1)
                       : llama2c::interleaved_to_rotate_half(w, heads);
    }
    if (a.norms_plus_one && name.find("norm.weight") != std::string::npos) w = w - 1;
    out[name] = w.to(dtype).contiguous();
  }
  for (int64_t l = 0; l < layers; ++l)
    for (const char* required : {"input_layernorm.weight", "self_attn.q_proj.weight", "mlp.down_proj.weight"})
      MS_CHECK(out.count(cat("model.layers.", l, ".", required)), file.path().string(), ": layer ", l,
               " has no tensor for ", required, " (the file's tensors do not match its block_count)");
  MS_CHECK(out.count("model.norm.weight"), file.path().string(), ": tensor output_norm.weight is missing");
  return out;
}

void convert(const fs::path& gguf_file, const fs::path& out_dir, at::ScalarType dtype) {
  MS_CHECK(dtype == at::kFloat || dtype == at::kBFloat16, "convert gguf: --dtype must be float32 or bfloat16");
  const File file = File::open(gguf_file);
  json config = hf_config(file);
  config["torch_dtype"] = dtype == at::kFloat ? "float32" : "bfloat16";
  const TokenizerFiles tokenizer = hf_tokenizer(file);
  const auto weights = hf_weights(file, config, dtype);

  json generation = {{"do_sample", false}};
  for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id"})
    if (!tokenizer.special_token_ids.value(key, json()).is_null()) generation[key] = tokenizer.special_token_ids[key];

  safetensors::NamedTensors named(weights.begin(), weights.end());
  write_directory_atomic(out_dir, [&](const fs::path& dir) {
    write_text_atomic(dir / "config.json", dump(config));
    safetensors::write(dir / "model.safetensors", named);
    write_text_atomic(dir / "tokenizer.json", dump(tokenizer.tokenizer));
    write_text_atomic(dir / "tokenizer_config.json", dump(tokenizer.tokenizer_config));
    write_text_atomic(dir / "generation_config.json", dump(generation));
  });
}

}  // namespace modelswarm::gguf
