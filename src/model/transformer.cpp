// The decoder, top to bottom: load weights, then hidden_states() runs
// embed -> L × (RMSNorm, attention with RoPE, residual, RMSNorm, gated MLP, residual) -> RMSNorm.
// Letters: see transformer.h (B, T, S, D, F, H, K, hd, V, R, P).
#include "modelswarm/model/transformer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <optional>
#include <sstream>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/safetensors.h"
#include "model/host_to_device.h"

namespace modelswarm::model {
namespace {

constexpr const char* kProjectionNames[kNumProjections] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                           "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                                           "mlp.down_proj"};

std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

// Fetches HF tensor `name`, checks its shape, and moves it to the run-time device and dtype.
class TensorSource {
 public:
  TensorSource(const std::map<std::string, at::Tensor>& tensors, std::string source, c10::Device device,
               c10::ScalarType dtype)
      : tensors_(tensors), source_(std::move(source)), device_(device), dtype_(dtype) {}

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }

  at::Tensor get(const std::string& name, std::vector<int64_t> shape) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end())
      throw Error(cat(source_, ": tensor ", name, " is missing (expected shape ", shape_string(shape), ")"));
    const at::Tensor& t = it->second;
    if (t.sizes() != at::IntArrayRef(shape))
      throw Error(cat(source_, ": tensor ", name, " has shape ", shape_string(t.sizes()), ", expected ",
                      shape_string(shape)));
    if (!at::isFloatingType(t.scalar_type()))
      throw Error(cat(source_, ": tensor ", name, " has non-float dtype ", c10::toString(t.scalar_type())));
    at::Tensor weight = t.to(device_, dtype_).contiguous();
    // One NaN or infinity (or a value float16 cannot hold) would make every utility NaN: refuse
    // the file. Chunks bound the temporary mask's memory on large embeddings.
    for (const at::Tensor& chunk : weight.view(-1).split(int64_t(1) << 24))
      if (!at::isfinite(chunk).all().item<bool>())
        throw Error(cat(source_, ": tensor ", name, " holds NaN or infinite values (in ", c10::toString(dtype_), ")"));
    return weight;
  }

 private:
  const std::map<std::string, at::Tensor>& tensors_;
  std::string source_;
  c10::Device device_;
  c10::ScalarType dtype_;
};

// y = x·Wᵀ + b, plus each row's particle delta (x·A_pᵀ)·B_pᵀ when the module is targeted.
// x (B,T,in) -> (B,T,out).
at::Tensor project(const Linear& linear, const at::Tensor& x, const lora::ModuleSlot* slot, const LoraBatch* lora) {
  at::Tensor y = at::linear(x, linear.weight, linear.bias);  // (B,T,out) base matmul shared by all rows
  if (slot == nullptr) return y;
  const at::Tensor A = lora->layout->a_view(lora->particles, *slot);  // (P,R,in)
  const at::Tensor Bw = lora->layout->b_view(lora->particles, *slot); // (P,out,R)
  // The deltas accumulate into y inside the second matmul (beta = 1): no (B,T,out) temporary.
  const int64_t out = y.size(-1);
  if (A.size(0) == 1) {  // one adapter for every row: two thin matmuls
    y.view({-1, out}).addmm_(at::linear(x, A[0]).view({-1, A.size(1)}), Bw[0].t());
    return y;
  }
  if (!lora->runs.empty()) {  // rows grouped by particle
    const auto& runs = lora->runs;
    const int64_t U = static_cast<int64_t>(runs.size()), n = runs[0].rows, p0 = runs[0].particle;
    bool uniform = true;  // U runs of n rows, of particles p0, p0+1, ...: the common case
    for (int64_t i = 0; i < U; ++i) uniform = uniform && runs[i].particle == p0 + i && runs[i].rows == n;
    if (uniform) {  // one pair of batched matmuls over (U, n·T) rows, weights read as views
      const at::Tensor xr = x.reshape({U, n * x.size(1), x.size(2)});             // (U,n·T,in)
      const at::Tensor xa = at::bmm(xr, A.narrow(0, p0, U).transpose(1, 2));  // (U,n·T,R)
      y.view({U, -1, out}).baddbmm_(xa, Bw.narrow(0, p0, U).transpose(1, 2));  // (B,T,out) as (U,n·T,out)
      return y;
    }
    for (const ParticleRun& run : runs)  // two thin matmuls per run
      y.narrow(0, run.first_row, run.rows)
          .view({-1, out})
          .addmm_(at::linear(x.narrow(0, run.first_row, run.rows), A[run.particle]).view({-1, A.size(1)}),
                  Bw[run.particle].t());
    return y;
  }
  const at::Tensor A_rows = A.index_select(0, lora->row_particle);   // (B,R,in)
  const at::Tensor B_rows = Bw.index_select(0, lora->row_particle);  // (B,out,R)
  const at::Tensor xa = at::bmm(x, A_rows.transpose(1, 2));          // (B,T,R)
  return y.baddbmm_(xa, B_rows.transpose(1, 2));                     // (B,T,out)
}

// HF "rotate half" RoPE: (x1, x2) -> (x1·cos − x2·sin, x2·cos + x1·sin). x (B,N,T,hd), cos/sin (B,1,T,hd).
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = at::cat({x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

// (B,K,S,hd) -> (B,K·groups,S,hd): each key/value head serves `groups` query heads.
at::Tensor repeat_kv(const at::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  const auto B = x.size(0), K = x.size(1), S = x.size(2), hd = x.size(3);
  return x.unsqueeze(2).expand({B, K, groups, S, hd}).reshape({B, K * groups, S, hd});
}

}  // namespace

// ----------------------------------------------------------------------------
// Loading

Transformer Transformer::load(const std::filesystem::path& model_dir, c10::Device device, c10::ScalarType dtype) {
  ModelConfig config = read_model_config(model_dir);
  const auto tensors = safetensors::load_checkpoint(model_dir);
  return Transformer(std::move(config), tensors, device, dtype, model_dir.string());
}

Transformer::Transformer(ModelConfig config, const std::map<std::string, at::Tensor>& tensors, c10::Device device,
                         c10::ScalarType dtype, const std::string& source)
    : config_(std::move(config)), device_(device), dtype_(dtype) {
  const ModelConfig& c = config_;
  const int64_t D = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const int64_t q_dim = c.num_attention_heads * c.head_dim, kv_dim = c.num_key_value_heads * c.head_dim;
  const TensorSource src(tensors, source, device, dtype);

  weights_.embed_tokens = src.get("model.embed_tokens.weight", {V, D});
  weights_.final_norm = src.get("model.norm.weight", {D});
  if (c.head == Head::kCausalLM)
    weights_.lm_head = c.tie_word_embeddings ? weights_.embed_tokens : src.get("lm_head.weight", {V, D});

  const std::array<std::pair<int64_t, int64_t>, kNumProjections> shapes = {{
      {q_dim, D}, {kv_dim, D}, {kv_dim, D}, {D, q_dim}, {F, D}, {F, D}, {D, F}}};
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string prefix = cat("model.layers.", l, ".");
    LayerWeights layer;
    layer.input_norm = src.get(prefix + "input_layernorm.weight", {D});
    layer.post_attention_norm = src.get(prefix + "post_attention_layernorm.weight", {D});
    if (c.qk_norm) {
      layer.q_norm = src.get(prefix + "self_attn.q_norm.weight", {c.head_dim});
      layer.k_norm = src.get(prefix + "self_attn.k_norm.weight", {c.head_dim});
    }
    for (int p = 0; p < kNumProjections; ++p) {
      Linear& linear = layer.proj[p];
      linear.name = prefix + kProjectionNames[p];
      const auto [out, in] = shapes[p];
      linear.weight = src.get(linear.name + ".weight", {out, in});
      const bool attention = p <= kO;
      const bool has_bias = attention ? (p == kO ? c.o_bias : c.qkv_bias) : c.mlp_bias;
      if (has_bias) linear.bias = src.get(linear.name + ".bias", {out});
    }
    weights_.layers.push_back(std::move(layer));
  }
  inv_freq_ = rope_inverse_frequencies().to(device);
}

// inv_freq[i] = theta^(-2i/hd), then rescaled as rope_scaling says (same float32 math as transformers).
at::Tensor Transformer::rope_inverse_frequencies() const {
  const int64_t hd = config_.head_dim;
  at::Tensor exponent = at::arange(0, hd, 2, at::kLong).to(at::kFloat) / static_cast<double>(hd);
  at::Tensor inv_freq = 1.0 / at::pow(config_.rope_theta, exponent);  // (hd/2)
  const RopeScaling& s = config_.rope_scaling;
  if (s.type == "linear") return inv_freq / s.factor;
  if (s.type != "llama3") return inv_freq;
  // Llama 3: long wavelengths are divided by factor, short ones kept, the band between smoothed.
  const double old_len = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_len / s.low_freq_factor;
  const double high_freq_wavelen = old_len / s.high_freq_factor;
  const at::Tensor wavelen = 2 * M_PI / inv_freq;
  at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  const at::Tensor smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  const at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  const at::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return at::where(medium, smoothed, scaled);
}

lora::BaseShapeLookup Transformer::base_shapes() const {
  std::map<std::string, std::pair<int64_t, int64_t>> shapes;
  for (const auto& layer : weights_.layers)
    for (const auto& linear : layer.proj) shapes[linear.name] = {linear.weight.size(0), linear.weight.size(1)};
  return [shapes](const std::string& name) -> std::optional<std::pair<int64_t, int64_t>> {
    auto it = shapes.find(name);
    if (it == shapes.end()) return std::nullopt;
    return it->second;
  };
}

void Transformer::check_layout(const lora::PoolLayout& layout) const {
  const auto shapes = base_shapes();
  for (const auto& slot : layout.slots()) {
    const auto shape = shapes(slot.name);
    if (!shape)
      throw Error(cat("LoRA module ", slot.name, " is not a linear layer of the ", config_.architecture,
                      " model (targets must be q/k/v/o/gate/up/down_proj of model.layers.N)"));
    if (shape->first != slot.out_features || shape->second != slot.in_features)
      throw Error(cat("LoRA module ", slot.name, " is (out ", slot.out_features, ", in ", slot.in_features,
                      ") but the base weight is (", shape->first, ", ", shape->second, ")"));
  }
}

KVCache Transformer::new_cache(int64_t rows, int64_t capacity) const {
  KVCache cache;
  const auto options = at::TensorOptions().device(device_).dtype(dtype_);
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    cache.k.push_back(at::zeros({rows, config_.num_key_value_heads, capacity, config_.head_dim}, options));
    cache.v.push_back(at::zeros({rows, config_.num_key_value_heads, capacity, config_.head_dim}, options));
  }
  return cache;
}

// ----------------------------------------------------------------------------
// Neural net blocks

// RMSNorm in float32: x / sqrt(mean(x²) + eps), times w (Gemma: times 1 + w, in float32). x (..., N).
at::Tensor Transformer::rms_norm(const at::Tensor& x, const at::Tensor& weight) const {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + config_.rms_norm_eps);
  if (config_.norm_adds_one) return (normed * (weight.to(at::kFloat) + 1.0)).to(x.scalar_type());
  return weight * normed.to(x.scalar_type());
}

at::Tensor Transformer::hidden_states(const at::Tensor& tokens, const at::Tensor& positions,
                                      const at::Tensor& key_valid, KVCache* cache, const LoraBatch* lora,
                                      const SharedPrefix* prefix) const {
  const ModelConfig& c = config_;
  const int64_t B = tokens.size(0), T = tokens.size(1);
  const int64_t H = c.num_attention_heads, K = c.num_key_value_heads, hd = c.head_dim;
  TORCH_CHECK(!(cache && prefix), "hidden_states: a KV cache and a shared prefix are exclusive");
  TORCH_CHECK(!prefix || (prefix->rows.dim() == 1 && prefix->rows.size(0) == B), "shared prefix rows must be (", B,
              ")");
  const int64_t past = cache ? cache->length : prefix ? prefix->cache->length : 0, S = past + T;
  TORCH_CHECK(tokens.dim() == 2 && positions.sizes() == tokens.sizes(), "tokens and positions must be (B,T), got ",
              tokens.sizes(), " and ", positions.sizes());
  TORCH_CHECK(key_valid.dim() == 2 && key_valid.size(0) == B && key_valid.size(1) == S, "key_valid must be (B,",
              S, "), got ", key_valid.sizes());
  TORCH_CHECK(!cache || S <= cache->capacity(), "KV cache holds ", cache ? cache->capacity() : 0,
              " positions, ", S, " needed");

  // Which LoRA slot (if any) serves each layer's projections, for this layout.
  std::vector<std::array<const lora::ModuleSlot*, kNumProjections>> slots(weights_.layers.size());
  for (size_t l = 0; l < weights_.layers.size(); ++l)
    for (int p = 0; p < kNumProjections; ++p)
      slots[l][p] = lora ? lora->layout->find(weights_.layers[l].proj[p].name) : nullptr;
  if (lora) {
    TORCH_CHECK(lora->particles.dim() == 2 && lora->particles.size(1) == lora->layout->dim(),
                "particles must be (P,", lora->layout->dim(), "), got ", lora->particles.sizes());
    TORCH_CHECK(lora->particles.size(0) == 1 || (lora->row_particle.defined() && lora->row_particle.size(0) == B),
                "row_particle must name one particle per batch row (", B, ")");
    TORCH_CHECK(lora->runs.empty() || lora->runs.back().first_row + lora->runs.back().rows == B,
                "LoRA particle runs must cover the ", B, " batch rows");
  }

  // RoPE tables from positions: cos/sin (B,1,T,hd) in the model dtype.
  const at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq_;  // (B,T,hd/2)
  const at::Tensor angles = at::cat({freqs, freqs}, -1);                         // (B,T,hd)
  const at::Tensor cos = angles.cos().to(dtype_).unsqueeze(1);                    // (B,1,T,hd)
  const at::Tensor sin = angles.sin().to(dtype_).unsqueeze(1);                    // (B,1,T,hd)

  // Attention mask (B,1,T,S), true = may attend: causal over slots, within the sliding window,
  // not padding; a slot always sees itself so that padding queries never produce NaN.
  const auto long_options = at::TensorOptions().device(device_).dtype(at::kLong);
  const at::Tensor q_slot = at::arange(past, S, long_options).unsqueeze(1);  // (T,1)
  const at::Tensor k_slot = at::arange(0, S, long_options).unsqueeze(0);     // (1,S)
  at::Tensor allowed = k_slot <= q_slot;                                      // (T,S)
  if (c.sliding_window) allowed = allowed.logical_and(q_slot - k_slot < *c.sliding_window);
  const at::Tensor mask = allowed.unsqueeze(0)
                              .logical_and(key_valid.to(device_, at::kBool).unsqueeze(1))
                              .logical_or((k_slot == q_slot).unsqueeze(0))
                              .unsqueeze(1);  // (B,1,T,S)

  // Token embeddings (B,T,D); Gemma scales them by sqrt(D) rounded to the weight dtype.
  at::Tensor x = weights_.embed_tokens.index_select(0, tokens.reshape(-1)).view({B, T, c.hidden_size});
  if (c.scale_embeddings)
    x = x * at::scalar_tensor(std::sqrt(static_cast<double>(c.hidden_size)), x.options());

  for (size_t l = 0; l < weights_.layers.size(); ++l) {
    const LayerWeights& w = weights_.layers[l];
    const auto& s = slots[l];

    // Attention: q (B,H,T,hd), k/v (B,K,T,hd); with a cache, k/v grow to (B,K,S,hd).
    at::Tensor h = rms_norm(x, w.input_norm);  // (B,T,D)
    at::Tensor q = project(w.proj[kQ], h, s[kQ], lora).view({B, T, H, hd});
    at::Tensor k = project(w.proj[kK], h, s[kK], lora).view({B, T, K, hd});
    at::Tensor v = project(w.proj[kV], h, s[kV], lora).view({B, T, K, hd}).transpose(1, 2);
    if (c.qk_norm) {
      q = rms_norm(q, w.q_norm);
      k = rms_norm(k, w.k_norm);
    }
    q = apply_rope(q.transpose(1, 2), cos, sin);
    k = apply_rope(k.transpose(1, 2), cos, sin);
    if (cache) {
      cache->k[l].narrow(2, past, T).copy_(k);
      cache->v[l].narrow(2, past, T).copy_(v);
      k = cache->k[l].narrow(2, 0, S);
      v = cache->v[l].narrow(2, 0, S);
    } else if (prefix) {  // (B,K,past,hd) gathered from the prefix rows, then the new T slots
      k = at::cat({prefix->cache->k[l].narrow(2, 0, past).index_select(0, prefix->rows), k}, 2);
      v = at::cat({prefix->cache->v[l].narrow(2, 0, past).index_select(0, prefix->rows), v}, 2);
    }
    at::Tensor attention = at::scaled_dot_product_attention(q, repeat_kv(k, H / K), repeat_kv(v, H / K), mask);
    attention = attention.transpose(1, 2).reshape({B, T, H * hd});  // (B,T,H·hd)
    x = x + project(w.proj[kO], attention, s[kO], lora);            // (B,T,D)

    // Gated MLP: down(act(gate(h)) · up(h)), act = SiLU (SwiGLU) or tanh-GELU (GeGLU).
    h = rms_norm(x, w.post_attention_norm);
    at::Tensor gate = project(w.proj[kGate], h, s[kGate], lora);  // (B,T,F)
    gate = c.hidden_act == "silu" ? at::silu(gate) : at::gelu(gate, "tanh");
    const at::Tensor up = project(w.proj[kUp], h, s[kUp], lora);  // (B,T,F)
    x = x + project(w.proj[kDown], gate * up, s[kDown], lora);     // (B,T,D)
  }
  if (cache) cache->length = S;
  return rms_norm(x, weights_.final_norm);  // (B,T,D)
}

at::Tensor Transformer::logits(const at::Tensor& hidden) const {
  MS_CHECK(weights_.lm_head.defined(), "a ", config_.architecture,
           " model has no lm_head: it scores whole texts and cannot predict tokens");
  return at::linear(hidden, weights_.lm_head).to(at::kFloat);  // (...,V)
}

at::Tensor Transformer::exact_logits(const at::Tensor& hidden, const at::Tensor& tokens) const {
  MS_CHECK(weights_.lm_head.defined(), "a ", config_.architecture,
           " model has no lm_head: it scores whole texts and cannot predict tokens");
  const int64_t n = tokens.size(0), k = tokens.size(1);
  const at::Tensor rows = weights_.lm_head.index_select(0, tokens.reshape(-1)).view({n, k, -1});  // (n,k,D)
  return at::bmm(rows.to(at::kFloat), hidden.to(at::kFloat).unsqueeze(2)).squeeze(2);              // (n,k)
}

at::Tensor Transformer::forward(const at::Tensor& tokens, const at::Tensor& valid, const LoraBatch* lora) const {
  const at::Tensor valid_d = valid.to(device_, at::kBool);
  return logits(hidden_states(tokens.to(device_), positions_from_valid(valid_d), valid_d, nullptr, lora));
}

std::vector<ParticleRun> particle_runs(const std::vector<int64_t>& row_particle) {
  std::vector<ParticleRun> runs;
  for (size_t b = 0; b < row_particle.size(); ++b) {
    if (runs.empty() || runs.back().particle != row_particle[b])
      runs.push_back({row_particle[b], static_cast<int64_t>(b), 0});
    ++runs.back().rows;
  }
  return runs;
}

void assign_rows(LoraBatch& batch, const std::vector<int64_t>& row_particle, c10::Device device) {
  batch.row_particle = host_to_device(at::tensor(row_particle, at::kLong), device);  // (B)
  batch.runs = particle_runs(row_particle);
  if (batch.runs.size() * 2 > row_particle.size()) batch.runs.clear();
}

at::Tensor positions_from_valid(const at::Tensor& valid) {
  return (valid.to(at::kLong).cumsum(1) - 1).clamp_min(0);  // (B,S)
}

}  // namespace modelswarm::model
