#include "bench/bench_support.h"

#include <ATen/DeviceAccelerator.h>

#include <fstream>

namespace modelswarm::bench {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Measurement

void synchronize(const c10::Device& device) {
  if (!device.is_cpu()) at::accelerator::synchronizeDevice(device.index());
}

void reset_peak_memory(const c10::Device& device) {
  if (device.is_cpu()) {
    std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM (Linux >= 4.0); ignored elsewhere
  } else {
    at::accelerator::resetPeakStats(device.index());
  }
}

int64_t peak_memory(const c10::Device& device) {
  if (device.is_cpu()) {  // VmHWM: peak resident set size of this process
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
    return 0;
  }
  const auto stats = at::accelerator::getDeviceStats(device.index());
  return static_cast<int64_t>(stats.allocated_bytes[0].peak);  // [0]: all pools together
}

// ---------------------------------------------------------------------------------------------
// The random model and its particles

namespace {

struct Preset {
  const char* name;
  int64_t V, D, F, L, H, K;
};
// tiny = stories260K; 25m/100m are Llama-2-style small models; 1b has Llama-3.2-1B's shape.
constexpr Preset kPresets[] = {
    {"tiny", 512, 64, 172, 5, 8, 4},
    {"25m", 4096, 512, 1376, 8, 8, 8},
    {"100m", 32000, 768, 2048, 12, 12, 12},
    {"1b", 128256, 2048, 8192, 16, 32, 8},
};

}  // namespace

json preset_json(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name)
      return {{"architectures", {"LlamaForCausalLM"}},
              {"model_type", "llama"},
              {"vocab_size", p.V},
              {"hidden_size", p.D},
              {"intermediate_size", p.F},
              {"num_hidden_layers", p.L},
              {"num_attention_heads", p.H},
              {"num_key_value_heads", p.K},
              {"hidden_act", "silu"},
              {"rms_norm_eps", 1e-5},
              {"rope_theta", 10000.0},
              {"max_position_embeddings", 131072},
              {"bos_token_id", 1},
              {"eos_token_id", 2},
              {"tie_word_embeddings", true}};
  throw ConfigError(cat("--preset: unknown preset \"", name, "\" (known: tiny, 25m, 100m, 1b)"));
}

std::map<std::string, at::Tensor> random_weights(const model::ModelConfig& c, const at::TensorOptions& options) {
  const int64_t D = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const int64_t q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  auto normal = [&](std::vector<int64_t> shape) { return at::randn(shape, options).mul_(0.02); };
  std::map<std::string, at::Tensor> t;
  t["model.embed_tokens.weight"] = normal({V, D});
  t["model.norm.weight"] = at::ones({D}, options);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = cat("model.layers.", l, ".");
    t[p + "input_layernorm.weight"] = at::ones({D}, options);
    t[p + "post_attention_layernorm.weight"] = at::ones({D}, options);
    t[p + "self_attn.q_proj.weight"] = normal({q, D});
    t[p + "self_attn.k_proj.weight"] = normal({kv, D});
    t[p + "self_attn.v_proj.weight"] = normal({kv, D});
    t[p + "self_attn.o_proj.weight"] = normal({D, q});
    t[p + "mlp.gate_proj.weight"] = normal({F, D});
    t[p + "mlp.up_proj.weight"] = normal({F, D});
    t[p + "mlp.down_proj.weight"] = normal({D, F});
  }
  return t;
}

lora::PoolLayout full_layout(const model::Transformer& m, int64_t rank) {
  std::vector<lora::ModuleSlot> slots;
  for (const auto& layer : m.weights().layers)
    for (const auto& linear : layer.proj) {
      lora::ModuleSlot s;
      s.name = linear.name;
      s.rank = rank;
      s.out_features = linear.weight.size(0);
      s.in_features = linear.weight.size(1);
      slots.push_back(s);
    }
  return lora::PoolLayout(slots);
}

std::map<std::string, at::Tensor> merged_weights(const std::map<std::string, at::Tensor>& base,
                                                 const lora::PoolLayout& layout, const at::Tensor& row) {
  auto merged = base;
  for (const auto& slot : layout.slots()) {
    at::Tensor& w = merged.at(slot.name + ".weight");
    w = w + at::matmul(layout.b_view(row, slot), layout.a_view(row, slot));  // (out,R)@(R,in)
  }
  return merged;
}

// ---------------------------------------------------------------------------------------------
// Workloads

namespace {

std::vector<int64_t> random_ids(int64_t n, int64_t vocab_size) {
  const at::Tensor t = at::randint(3, vocab_size, {n}, at::kLong);
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
}

}  // namespace

std::vector<model::ScoringRequest> MultipleChoiceSet::requests() const {
  std::vector<model::ScoringRequest> out;
  for (size_t q = 0; q < prompts.size(); ++q)
    for (const auto& choice : choices[q]) out.push_back({prompts[q], choice});
  return out;
}

std::vector<std::vector<int64_t>> random_prompts(int64_t count, int64_t length, int64_t vocab_size) {
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i = 0; i < count; ++i) {
    std::vector<int64_t> prompt = {1};  // <s>
    const auto rest = random_ids(length - 1, vocab_size);
    prompt.insert(prompt.end(), rest.begin(), rest.end());
    prompts.push_back(std::move(prompt));
  }
  return prompts;
}

MultipleChoiceSet random_mc_set(const BenchOptions& o, int64_t vocab_size) {
  MultipleChoiceSet set;
  set.prompts = random_prompts(o.questions, o.prompt_tokens, vocab_size);
  for (int64_t q = 0; q < o.questions; ++q) {
    set.choices.emplace_back();
    for (int64_t c = 0; c < o.choices; ++c) set.choices.back().push_back(random_ids(o.choice_tokens, vocab_size));
    set.gold.push_back(at::randint(o.choices, {1}, at::kLong).item<int64_t>());
  }
  return set;
}

// ---------------------------------------------------------------------------------------------
// FLOPs

FlopCounter::FlopCounter(const model::Transformer& m, const lora::PoolLayout* layout) {
  const model::ModelConfig& c = m.config();
  for (const auto& layer : m.weights().layers)
    for (const auto& linear : layer.proj) linear_ += 2.0 * static_cast<double>(linear.weight.numel());
  lm_head_ = 2.0 * static_cast<double>(m.weights().lm_head.numel());
  attention_ = 4.0 * c.num_attention_heads * c.head_dim * c.num_hidden_layers;
  if (layout)
    for (const auto& slot : layout->slots()) {
      lora_ += 2.0 * slot.rank * (slot.in_features + slot.out_features);
      merge_ += 2.0 * slot.out_features * slot.in_features * slot.rank;
    }
}

double FlopCounter::row(int64_t T, int64_t past, int64_t scored, bool lora) const {
  // Query t (1-based) of the new tokens sees past + t keys.
  const double pairs = static_cast<double>(T) * past + T * (T + 1) / 2.0;
  return (linear_ + (lora ? lora_ : 0.0)) * T + lm_head_ * scored + attention_ * pairs;
}

}  // namespace modelswarm::bench
