#include "modelswarm/demo/make_demo.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <fstream>
#include <map>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/demo/fact_world.h"
#include "modelswarm/demo/word_tokenizer.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/model/config.h"
#include "modelswarm/model/transformer.h"
#include "modelswarm/train/sft_data.h"

namespace modelswarm::demo {
namespace fs = std::filesystem;

DemoOptions::DemoOptions() {
  pretrain.steps = 200;
  pretrain.batch_size = 64;
  pretrain.learning_rate = 3e-3;
  pretrain.warmup_steps = 30;
  pretrain.weight_decay = 0.01;
  pretrain.label = "pretrain";
  finetune.steps = 100;
  finetune.batch_size = 32;
  finetune.learning_rate = 3e-3;
  finetune.warmup_steps = 10;
  lora.rank = 8;
  lora.alpha = 16;
  lora.target_modules = {"all-linear"};
}

namespace {

nlohmann::json model_config(const DemoOptions& o, int64_t vocab, int64_t bos, int64_t eos) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", vocab},
          {"hidden_size", o.hidden_size},
          {"intermediate_size", o.intermediate_size},
          {"num_hidden_layers", o.layers},
          {"num_attention_heads", o.heads},
          {"num_key_value_heads", o.heads},
          {"head_dim", o.hidden_size / o.heads},
          {"hidden_act", "silu"},
          {"max_position_embeddings", 64},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"tie_word_embeddings", false},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"bos_token_id", bos},
          {"eos_token_id", eos},
          {"torch_dtype", "float32"}};
}

// Hugging Face's Llama initialisation: N(0, 0.02) matrices, unit norms; seeded.
std::map<std::string, at::Tensor> initial_weights(const model::ModelConfig& c, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto normal = [&](std::vector<int64_t> shape) { return at::empty(shape, at::kFloat).normal_(0.0, 0.02, generator); };
  const int64_t D = c.hidden_size, F = c.intermediate_size, q = c.num_attention_heads * c.head_dim,
                kv = c.num_key_value_heads * c.head_dim;
  std::map<std::string, at::Tensor> w;
  w["model.embed_tokens.weight"] = normal({c.vocab_size, D});
  w["model.norm.weight"] = at::ones({D});
  // Untied: tied embeddings would pull the countries' input vectors together, since as outputs
  // they are all equally unpredictable, and the experts need to tell countries apart.
  w["lm_head.weight"] = normal({c.vocab_size, D});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = cat("model.layers.", l, ".");
    w[p + "input_layernorm.weight"] = at::ones({D});
    w[p + "post_attention_layernorm.weight"] = at::ones({D});
    w[p + "self_attn.q_proj.weight"] = normal({q, D});
    w[p + "self_attn.k_proj.weight"] = normal({kv, D});
    w[p + "self_attn.v_proj.weight"] = normal({kv, D});
    w[p + "self_attn.o_proj.weight"] = normal({D, q});
    w[p + "mlp.gate_proj.weight"] = normal({F, D});
    w[p + "mlp.up_proj.weight"] = normal({F, D});
    w[p + "mlp.down_proj.weight"] = normal({D, F});
  }
  return w;
}

std::vector<train::TokenizedExample> tokenize(const tokenizer::Tokenizer& tok, const std::vector<Pair>& pairs,
                                              bool whole_text_loss) {
  std::vector<train::TokenizedExample> data;
  for (const auto& p : pairs) {
    data.push_back(train::tokenize_pair(tok, p.prompt, p.completion, p.prompt));
    if (whole_text_loss) data.back().prompt_tokens = 1;  // every token after BOS
  }
  return data;
}

void write_jsonl(const fs::path& path, const std::vector<nlohmann::json>& records) {
  write_file_atomic(path, [&](std::ostream& out) {
    for (const auto& r : records) out << r.dump() << "\n";
  });
}

std::vector<nlohmann::json> pair_records(const std::vector<Pair>& pairs) {
  std::vector<nlohmann::json> records;
  for (const auto& p : pairs) records.push_back({{"prompt", p.prompt}, {"completion", p.completion}});
  return records;
}

}  // namespace

void make_demo(const fs::path& out, const DemoOptions& o) {
  const FactWorld world = make_world(o.seed, o.countries, o.values);
  fs::create_directories(out / "experts");
  fs::create_directories(out / "data");
  fs::create_directories(out / "train");

  // The base model: tokenizer and config first, so that the tokenizer is read back exactly as
  // every later user reads it; then pretraining on the formats.
  const nlohmann::json tokenizer_json = word_level_bpe(world.words());
  const int64_t vocab = static_cast<int64_t>(tokenizer_json["model"]["vocab"].size()) + 2;
  const nlohmann::json config_json = model_config(o, vocab, vocab - 2, vocab - 1);
  const model::ModelConfig config = model::parse_model_config(config_json, "demo config.json");
  const std::vector<Pair> formats = format_corpus(world);
  write_jsonl(out / "train" / "pretrain.jsonl", pair_records(formats));

  write_directory_atomic(out / "base", [&](const fs::path& dir) {
    write_text_atomic(dir / "tokenizer.json", tokenizer_json.dump() + "\n");
    write_text_atomic(dir / "tokenizer_config.json",
                      nlohmann::json({{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"add_bos_token", true},
                                      {"tokenizer_class", "PreTrainedTokenizerFast"},
                                      {"model_max_length", 64}}).dump(2) + "\n");
    write_text_atomic(dir / "config.json", config_json.dump(2) + "\n");
    const auto tok = tokenizer::Tokenizer::from_model_dir(dir);
    auto weights = initial_weights(config, o.seed);
    const auto losses = train::train_full(config, weights, tokenize(tok, formats, true), o.pretrain);
    log::info(cat("make_demo: base pretrained, loss ", losses.front(), " -> ", losses.back()));
    safetensors::NamedTensors tensors(weights.begin(), weights.end());
    safetensors::write(dir / "model.safetensors", tensors);
  });

  const auto tok = tokenizer::Tokenizer::from_model_dir(out / "base");
  const model::Transformer base = model::Transformer::load(out / "base", c10::Device(c10::kCPU), at::kFloat);
  for (size_t t = 0; t < world.topics.size(); ++t)
    for (size_t e = 0; e < world.editions.size(); ++e) {
      const std::string name = world.topics[t].name + "-" + world.editions[e];
      const std::vector<Pair> skill = skill_corpus(world, t, e);
      write_jsonl(out / "train" / (name + ".jsonl"), pair_records(skill));
      train::TrainOptions options = o.finetune;
      options.label = "expert " + name;
      const auto result = train::train_lora(base, tokenize(tok, skill, false), o.lora, options);
      lora::write_adapter(out / "experts" / name, result.modules, "../../base",
                          {{"demo_skill", name}, {"first_loss", result.losses.front()}, {"last_loss", result.losses.back()}});
    }
  write_jsonl(out / "data" / "quiz.jsonl", quiz(world, o.seed + 1));
}

}  // namespace modelswarm::demo
