// The blueprint of a decoder-only model, read from a Hugging Face config.json.
// Supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
// GemmaForCausalLM, and the same decoders ForSequenceClassification (reward models). Keys missing from the file take the defaults of the matching transformers
// config class; a key of the wrong type or out of range is an Error naming config.json and the key.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace modelswarm::model {

enum class Family { kLlama, kMistral, kQwen2, kQwen3, kGemma };

/// What sits on top of the decoder: *ForCausalLM has lm_head (V, D); *ForSequenceClassification
/// has a `score` head (num_labels, D) read at the last token, and no lm_head.
enum class Head { kCausalLM, kSequenceClassification };

/// How rotary frequencies are derived from rope_theta ("default", "linear" or "llama3").
struct RopeScaling {
  std::string type = "default";
  double factor = 1.0;
  double low_freq_factor = 1.0;                     // llama3
  double high_freq_factor = 4.0;                    // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct ModelConfig {
  std::string architecture;  // "LlamaForCausalLM"
  Family family = Family::kLlama;
  Head head = Head::kCausalLM;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;        // D
  int64_t intermediate_size = 0;  // F
  int64_t num_hidden_layers = 0;  // L
  int64_t num_attention_heads = 0;  // H
  int64_t num_key_value_heads = 0;  // Hkv (divides H)
  int64_t head_dim = 0;             // hd
  std::string hidden_act = "silu";  // "silu" (SwiGLU) or "gelu_pytorch_tanh" (GeGLU)
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 2048;
  bool attention_bias = false;  // q/k/v/o biases (Qwen2: q/k/v always, o never)
  bool mlp_bias = false;
  bool tie_word_embeddings = false;
  std::optional<int64_t> sliding_window;  // Mistral: a query sees the last `sliding_window` keys
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;

  // Family traits, set by the parser.
  bool norm_adds_one = false;    // Gemma: x_norm·(1 + w)
  bool scale_embeddings = false; // Gemma: embeddings · sqrt(D)
  bool qk_norm = false;          // Qwen3: RMSNorm on each head of q and k before RoPE
  bool o_bias = false;           // o_proj has a bias
  bool qkv_bias = false;         // q/k/v_proj have biases
};

/// Parses the contents of a config.json; `source` names the file in error messages.
ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source);

/// Reads DIR/config.json.
ModelConfig read_model_config(const std::filesystem::path& model_dir);

}  // namespace modelswarm::model
