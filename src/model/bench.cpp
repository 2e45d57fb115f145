#include "modelswarm/model/bench.h"

#include <ATen/ATen.h>
#include <ATen/DeviceAccelerator.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "modelswarm/common/device.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/lora_batch.h"
#include "modelswarm/model/transformer.h"

namespace modelswarm::model {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

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

// ---------------------------------------------------------------------------------------------
// Measurement

void synchronize(const c10::Device& device) {
  if (!device.is_cpu()) at::accelerator::synchronizeDevice(device.index());
}

// Peak resident set size of this process (VmHWM), in bytes.
int64_t cpu_peak_rss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return 0;
}

void reset_peak_memory(const c10::Device& device) {
  if (device.is_cpu()) {
    std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM (Linux >= 4.0); ignored elsewhere
  } else {
    at::accelerator::resetPeakStats(device.index());
  }
}

int64_t peak_memory(const c10::Device& device) {
  if (device.is_cpu()) return cpu_peak_rss();
  const auto stats = at::accelerator::getDeviceStats(device.index());
  return static_cast<int64_t>(stats.allocated_bytes[0].peak);  // [0]: all pools together
}

// One warm-up run, then runs until min_seconds have passed.
template <typename Run>
BenchFigure measure(const std::string& name, const c10::Device& device, double min_seconds, Run run) {
  run();
  synchronize(device);
  reset_peak_memory(device);
  BenchFigure f;
  f.name = name;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    run();
    synchronize(device);
    ++f.runs;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < min_seconds);
  f.seconds_per_run = elapsed / static_cast<double>(f.runs);
  f.peak_memory_bytes = peak_memory(device);
  log::info(cat("bench: ", name, ": ", f.runs, " runs, ", f.seconds_per_run, " s each"));
  return f;
}

// ---------------------------------------------------------------------------------------------
// The random model and its FLOPs

std::map<std::string, at::Tensor> random_weights(const ModelConfig& c, const at::TensorOptions& options) {
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

// Parameters of the matmuls a token goes through: every linear layer and the lm_head.
int64_t matmul_parameters(const Transformer& m) {
  int64_t n = m.weights().lm_head.numel();
  for (const auto& layer : m.weights().layers)
    for (const auto& linear : layer.proj) n += linear.weight.numel();
  return n;
}

// Forward FLOPs for `rows` rows of T tokens, causal attention counted as computed once per pair.
double forward_flops(const Transformer& m, int64_t rows, int64_t T) {
  const ModelConfig& c = m.config();
  const double attention = 2.0 * 2.0 * c.num_attention_heads * c.head_dim * (T * (T + 1) / 2.0);
  return 2.0 * matmul_parameters(m) * rows * T + attention * rows * c.num_hidden_layers;
}

lora::PoolLayout full_layout(const Transformer& m, int64_t rank) {
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

std::string human(double v, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T", "P"};
  int i = 0;
  while (v >= 1000 && i < 5) v /= 1000, ++i;
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.3g %s%s", v, prefixes[i], unit);
  return buffer;
}

json figure_json(const BenchFigure& f, double peak) {
  json j = {{"name", f.name},
            {"runs", f.runs},
            {"seconds_per_run", f.seconds_per_run},
            {"flops_per_run", f.flops_per_run},
            {"flops_per_second", f.flops_per_second()},
            {"fraction_of_matmul_peak", f.flops_per_second() / peak},
            {"peak_memory_bytes", f.peak_memory_bytes}};
  if (f.tokens_per_run > 0) {
    j["tokens_per_run"] = f.tokens_per_run;
    j["tokens_per_second"] = f.tokens_per_second();
  }
  return j;
}

}  // namespace

ModelConfig bench_preset(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name)
      return parse_model_config({{"architectures", {"LlamaForCausalLM"}},
                                 {"vocab_size", p.V},
                                 {"hidden_size", p.D},
                                 {"intermediate_size", p.F},
                                 {"num_hidden_layers", p.L},
                                 {"num_attention_heads", p.H},
                                 {"num_key_value_heads", p.K},
                                 {"rms_norm_eps", 1e-5},
                                 {"max_position_embeddings", 131072},
                                 {"tie_word_embeddings", true}},
                                cat("bench preset ", name));
  throw ConfigError(cat("--preset: unknown preset \"", name, "\" (known: tiny, 25m, 100m, 1b)"));
}

BenchReport run_bench(const BenchOptions& o) {
  if (o.batch < 1 || o.seq < 1 || o.particles < 1 || o.rank < 1 || o.min_seconds < 0 || o.matmul_size < 0)
    throw ConfigError(cat("bench: batch, seq, particles and rank must be positive (got ", o.batch, ", ", o.seq, ", ",
                          o.particles, ", ", o.rank, ")"));
  configure_threads();
  c10::InferenceMode inference;
  BenchReport r;
  r.options = o;
  r.config = bench_preset(o.preset);
  const c10::Device device = parse_device(o.device);
  const c10::ScalarType dtype = parse_dtype(o.dtype, device);
  r.device = device.str();
  r.dtype = dtype_name(dtype);
  r.memory_kind = device.is_cpu() ? "cpu peak rss" : "max allocated";
  const auto options = at::TensorOptions(device).dtype(dtype);
  at::manual_seed(o.seed);

  // (a) the matmul peak: large square matmuls, as fast as libtorch goes on this device/dtype.
  const int64_t N = o.matmul_size > 0 ? o.matmul_size : device.is_cpu() ? 1024 : 8192;
  {
    const at::Tensor a = at::randn({N, N}, options), b = at::randn({N, N}, options);
    r.matmul = measure(cat("matmul ", N, "x", N), device, o.min_seconds, [&] { at::matmul(a, b); });
    r.matmul.flops_per_run = 2.0 * N * N * N;
  }

  const auto base_weights = random_weights(r.config, options);
  const Transformer model(r.config, base_weights, device, dtype, cat("bench preset ", o.preset));
  for (const auto& [name, t] : base_weights) r.parameters += t.numel();
  const int64_t B = o.batch, T = o.seq, P = o.particles;
  const at::Tensor tokens = at::randint(r.config.vocab_size, {B, T}, at::TensorOptions(device).dtype(at::kLong));
  const at::Tensor valid = at::ones({B, T}, at::TensorOptions(device).dtype(at::kBool));

  // (b) the base model on B rows.
  BenchFigure base = measure("base forward", device, o.min_seconds, [&] { model.forward(tokens, valid); });
  base.tokens_per_run = B * T;
  base.flops_per_run = forward_flops(model, B, T);
  r.forwards.push_back(base);

  // (c) P particles in one batch: P·B rows, row b uses particle b / B.
  const lora::PoolLayout layout = full_layout(model, o.rank);
  r.particle_dim = layout.dim();
  const at::Tensor particles = at::randn({P, layout.dim()}, options).mul_(0.01);
  double lora_flops_per_token = 0;
  for (const auto& slot : layout.slots())
    lora_flops_per_token += 2.0 * slot.rank * (slot.in_features + slot.out_features);
  {
    const at::Tensor all_tokens = tokens.repeat({P, 1}), all_valid = valid.repeat({P, 1});
    const LoraBatch lora{&layout, particles,
                         at::arange(P * B, at::TensorOptions(device).dtype(at::kLong)).div(B, "floor")};
    BenchFigure batched = measure(cat(P, " particles batched"), device, o.min_seconds,
                                  [&] { model.forward(all_tokens, all_valid, &lora); });
    batched.tokens_per_run = P * B * T;
    batched.flops_per_run = forward_flops(model, P * B, T) + lora_flops_per_token * P * B * T;
    r.forwards.push_back(batched);
  }

  // (d) particle by particle: W' = W + B_p·A_p merged into a model of its own, then B rows.
  {
    double merge_flops = 0;
    for (const auto& slot : layout.slots()) merge_flops += 2.0 * slot.out_features * slot.in_features * slot.rank;
    BenchFigure one_by_one = measure(cat(P, " particles one by one"), device, o.min_seconds, [&] {
      for (int64_t p = 0; p < P; ++p) {
        auto merged = base_weights;
        const at::Tensor row = particles[p];
        for (const auto& slot : layout.slots()) {
          at::Tensor& w = merged[slot.name + ".weight"];
          w = w + at::matmul(layout.b_view(row, slot), layout.a_view(row, slot));  // (out,R)@(R,in)
        }
        const Transformer particle_model(r.config, merged, device, dtype, "bench particle");
        particle_model.forward(tokens, valid);
      }
    });
    one_by_one.tokens_per_run = P * B * T;
    one_by_one.flops_per_run = P * (forward_flops(model, B, T) + merge_flops);
    r.forwards.push_back(one_by_one);
  }
  return r;
}

json BenchReport::to_json() const {
  const double peak = matmul.flops_per_second();
  json forwards_json = json::array();
  for (const auto& f : forwards) forwards_json.push_back(figure_json(f, peak));
  return {{"preset", options.preset},
          {"model",
           {{"layers", config.num_hidden_layers},
            {"hidden_size", config.hidden_size},
            {"intermediate_size", config.intermediate_size},
            {"heads", config.num_attention_heads},
            {"kv_heads", config.num_key_value_heads},
            {"vocab_size", config.vocab_size},
            {"parameters", parameters}}},
          {"device", device},
          {"dtype", dtype},
          {"batch", options.batch},
          {"seq", options.seq},
          {"particles", options.particles},
          {"rank", options.rank},
          {"particle_dim", particle_dim},
          {"memory_kind", memory_kind},
          {"matmul_peak", figure_json(matmul, peak)},
          {"forward", forwards_json}};
}

std::string BenchReport::to_text() const {
  const double peak = matmul.flops_per_second();
  std::ostringstream out;
  out << "model   " << options.preset << ": Llama L " << config.num_hidden_layers << ", D " << config.hidden_size
      << ", F " << config.intermediate_size << ", H " << config.num_attention_heads << "/" << config.num_key_value_heads
      << " kv, V " << config.vocab_size << ", " << static_cast<double>(parameters) / 1e6 << "M parameters (random)\n"
      << "run     " << device << " " << dtype << ", batch " << options.batch << " x seq " << options.seq << ", "
      << options.particles << " particles of LoRA rank " << options.rank << " on all linear modules (D = "
      << particle_dim << ")\n"
      << "peak    " << matmul.name << ": " << human(peak, "FLOP/s") << " (" << matmul.runs << " runs)\n";
  char line[256];
  std::snprintf(line, sizeof(line), "%-26s %11s %13s %14s %8s %12s\n", "forward", "wall/run", "tokens/s", "FLOP/s",
                "of peak", "peak mem");
  out << line;
  for (const auto& f : forwards) {
    std::snprintf(line, sizeof(line), "%-26s %9.4f s %13s %14s %7.1f%% %12s\n", f.name.c_str(), f.seconds_per_run,
                  human(f.tokens_per_second(), "").c_str(), human(f.flops_per_second(), "FLOP/s").c_str(),
                  100.0 * f.flops_per_second() / peak, human(static_cast<double>(f.peak_memory_bytes), "B").c_str());
    out << line;
  }
  out << "memory  " << memory_kind << "; FLOPs from the model shape (2·params·tokens + causal attention)\n";
  return out.str();
}

}  // namespace modelswarm::model
