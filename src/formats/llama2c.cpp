#include "modelswarm/formats/llama2c.h"

#include <ATen/ATen.h>

#include <fstream>
#include <limits>
#include <vector>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/formats/sentencepiece.h"

namespace modelswarm::llama2c {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int64_t kHeaderBytes = 7 * sizeof(int32_t);
// llama2.c's export.py for version >= 1 starts files with this magic ("ak42" little-endian).
constexpr int32_t kVersionedMagic = 0x616b3432;
// llama2.c hard-codes these; they are not in the file.
constexpr double kRmsNormEps = 1e-5;
constexpr double kRopeTheta = 10000.0;
constexpr int64_t kUnkId = 0, kBosId = 1, kEosId = 2;

// a·b, or nothing when it does not fit in int64 (headers can claim absurd sizes).
bool checked_mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool checked_add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

// Floats the header implies, in file order, with their shapes.
struct ArraySpec {
  const char* name;
  std::vector<int64_t> shape;
};

std::vector<ArraySpec> layout(const Header& h) {
  const int64_t L = h.n_layers, D = h.dim, F = h.hidden_dim, Dkv = h.kv_dim(), V = h.vocab_size;
  std::vector<ArraySpec> specs = {
      {"token_embedding", {V, D}}, {"rms_att", {L, D}},   {"wq", {L, D, D}},     {"wk", {L, Dkv, D}},
      {"wv", {L, Dkv, D}},         {"wo", {L, D, D}},     {"rms_ffn", {L, D}},   {"w1", {L, F, D}},
      {"w2", {L, D, F}},           {"w3", {L, F, D}},     {"rms_final", {D}},
      {"freq_cis_real", {h.seq_len, h.head_size() / 2}}, {"freq_cis_imag", {h.seq_len, h.head_size() / 2}},
  };
  if (!h.shared_classifier) specs.push_back({"wcls", {V, D}});
  return specs;
}

// Elements of a shape, or -1 on overflow.
int64_t checked_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (!checked_mul(n, d, &n)) return -1;
  return n;
}

std::string describe(const Header& h) {
  return cat("dim ", h.dim, ", hidden_dim ", h.hidden_dim, ", n_layers ", h.n_layers, ", n_heads ", h.n_heads,
             ", n_kv_heads ", h.n_kv_heads, ", vocab_size ", h.shared_classifier ? "" : "-", h.vocab_size,
             ", seq_len ", h.seq_len);
}

std::string dump(const json& j) { return j.dump(2) + "\n"; }

// id -> token string from a tokenizer.json's added_tokens and model.vocab.
std::map<int64_t, std::string> tokens_by_id(const json& tokenizer, const std::string& source) {
  std::map<int64_t, std::string> out;
  if (!tokenizer.contains("model") || !tokenizer["model"].contains("vocab") || !tokenizer["model"]["vocab"].is_object())
    throw Error(cat(source, ": converted tokenizer has no model.vocab object"));
  for (const auto& [token, id] : tokenizer["model"]["vocab"].items()) out[id.get<int64_t>()] = token;
  if (tokenizer.contains("added_tokens"))
    for (const json& added : tokenizer["added_tokens"]) out[added.at("id").get<int64_t>()] = added.at("content");
  return out;
}

json special_token_entry(const std::string& content) {
  return {{"content", content}, {"lstrip", false}, {"normalized", false},
          {"rstrip", false},    {"single_word", false}, {"special", true}};
}

}  // namespace

int64_t Header::file_size() const {
  int64_t floats = 0;
  for (const ArraySpec& spec : layout(*this)) {
    const int64_t n = checked_numel(spec.shape);
    if (n < 0 || !checked_add(floats, n, &floats)) return -1;
  }
  int64_t bytes;
  if (!checked_mul(floats, static_cast<int64_t>(sizeof(float)), &bytes) || !checked_add(bytes, kHeaderBytes, &bytes))
    return -1;
  return bytes;
}

Header parse_header(const int32_t (&v)[7], const std::string& source) {
  if (v[0] == kVersionedMagic)
    throw Error(cat(source, ": a versioned llama2.c checkpoint (magic \"ak42\"); only the legacy version 0 "
                            "format (export.py --version 0) is supported"));
  static const char* const kNames[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
                                        "seq_len"};
  for (int i = 0; i < 7; ++i) {
    const bool bad = i == 5 ? v[i] == 0 || v[i] == std::numeric_limits<int32_t>::min() : v[i] <= 0;
    if (bad)
      throw Error(cat(source, ": llama2.c header: ", kNames[i], " is ", v[i], " (must be ",
                      i == 5 ? "non-zero" : "positive", "); is this a llama2.c checkpoint?"));
  }
  Header h;
  h.dim = v[0];
  h.hidden_dim = v[1];
  h.n_layers = v[2];
  h.n_heads = v[3];
  h.n_kv_heads = v[4];
  h.shared_classifier = v[5] > 0;
  h.vocab_size = v[5] > 0 ? v[5] : -static_cast<int64_t>(v[5]);
  h.seq_len = v[6];
  if (h.dim % h.n_heads != 0)
    throw Error(cat(source, ": llama2.c header: n_heads ", h.n_heads, " does not divide dim ", h.dim));
  if (h.head_size() % 2 != 0)
    throw Error(cat(source, ": llama2.c header: head size dim/n_heads = ", h.head_size(), " is odd (RoPE needs pairs)"));
  if (h.n_kv_heads > h.n_heads || h.n_heads % h.n_kv_heads != 0)
    throw Error(cat(source, ": llama2.c header: n_kv_heads ", h.n_kv_heads, " does not divide n_heads ", h.n_heads));
  if (h.file_size() < 0) throw Error(cat(source, ": llama2.c header (", describe(h), ") implies an impossible size"));
  return h;
}

Header read_header(const fs::path& model_bin) {
  const std::string source = model_bin.string();
  std::error_code ec;
  const auto size = fs::file_size(model_bin, ec);
  if (ec) throw Error(cat(source, ": cannot read: ", ec.message()));
  if (size < static_cast<uintmax_t>(kHeaderBytes))
    throw Error(cat(source, ": ", size, " bytes, too short for a llama2.c header (", kHeaderBytes, " bytes)"));
  std::ifstream in(model_bin, std::ios::binary);
  int32_t values[7];
  if (!in.read(reinterpret_cast<char*>(values), sizeof(values))) throw Error(cat(source, ": cannot read the header"));
  const Header h = parse_header(values, source);
  if (static_cast<uintmax_t>(h.file_size()) != size)
    throw Error(cat(source, ": file is ", size, " bytes but its llama2.c header (", describe(h), ") implies ",
                    h.file_size(), " bytes (truncated file, or not a legacy llama2.c checkpoint)"));
  return h;
}

at::Tensor interleaved_to_rotate_half(const at::Tensor& weight, int64_t heads) {
  TORCH_CHECK(weight.dim() == 2 && weight.size(0) % (2 * heads) == 0, "projection (", weight.sizes(),
              ") does not split into ", heads, " heads of even size");
  const int64_t out = weight.size(0), in = weight.size(1), hd = out / heads;
  // (heads·hd, in) -> (heads, hd/2 pairs, 2, in) -> (heads, 2 halves, hd/2, in): row 2i+s -> s·hd/2 + i
  return weight.view({heads, hd / 2, 2, in}).transpose(1, 2).reshape({out, in}).contiguous();
}

std::map<std::string, at::Tensor> read_weights(const fs::path& model_bin, Header* header_out) {
  const Header h = read_header(model_bin);
  if (header_out) *header_out = h;
  std::ifstream in(model_bin, std::ios::binary);
  in.seekg(kHeaderBytes);
  std::map<std::string, at::Tensor> raw;
  for (const ArraySpec& spec : layout(h)) {
    at::Tensor t = at::empty(spec.shape, at::kFloat);
    const auto bytes = static_cast<std::streamsize>(t.numel() * sizeof(float));
    if (!in.read(static_cast<char*>(t.data_ptr()), bytes))
      throw Error(cat(model_bin.string(), ": read failed in array ", spec.name, " (file changed while reading?)"));
    raw[spec.name] = std::move(t);
  }

  std::map<std::string, at::Tensor> hf;
  hf["model.embed_tokens.weight"] = raw["token_embedding"];
  for (int64_t l = 0; l < h.n_layers; ++l) {
    const std::string p = cat("model.layers.", l, ".");
    hf[p + "input_layernorm.weight"] = raw["rms_att"][l];
    hf[p + "self_attn.q_proj.weight"] = interleaved_to_rotate_half(raw["wq"][l], h.n_heads);
    hf[p + "self_attn.k_proj.weight"] = interleaved_to_rotate_half(raw["wk"][l], h.n_kv_heads);
    hf[p + "self_attn.v_proj.weight"] = raw["wv"][l];
    hf[p + "self_attn.o_proj.weight"] = raw["wo"][l];
    hf[p + "post_attention_layernorm.weight"] = raw["rms_ffn"][l];
    hf[p + "mlp.gate_proj.weight"] = raw["w1"][l];
    hf[p + "mlp.down_proj.weight"] = raw["w2"][l];
    hf[p + "mlp.up_proj.weight"] = raw["w3"][l];
  }
  hf["model.norm.weight"] = raw["rms_final"];
  if (!h.shared_classifier) hf["lm_head.weight"] = raw["wcls"];
  return hf;
}

json hf_config(const Header& h) {
  return {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"vocab_size", h.vocab_size},
      {"hidden_size", h.dim},
      {"intermediate_size", h.hidden_dim},
      {"num_hidden_layers", h.n_layers},
      {"num_attention_heads", h.n_heads},
      {"num_key_value_heads", h.n_kv_heads},
      {"head_dim", h.head_size()},
      {"hidden_act", "silu"},
      {"max_position_embeddings", h.seq_len},
      {"rms_norm_eps", kRmsNormEps},
      {"rope_theta", kRopeTheta},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"tie_word_embeddings", h.shared_classifier},
      {"bos_token_id", kBosId},
      {"eos_token_id", kEosId},
      {"torch_dtype", "float32"},
      {"use_cache", true},
  };
}

void convert(const fs::path& model_bin, const fs::path& tokenizer_model, const fs::path& out_dir) {
  Header header;
  const auto weights = read_weights(model_bin, &header);
  const json tokenizer = sentencepiece::to_tokenizer_json(tokenizer_model);

  const auto tokens = tokens_by_id(tokenizer, tokenizer_model.string());
  const int64_t tokenizer_vocab = tokens.empty() ? 0 : tokens.rbegin()->first + 1;
  if (tokenizer_vocab != header.vocab_size)
    throw Error(cat(tokenizer_model.string(), ": tokenizer has ", tokenizer_vocab, " tokens but ", model_bin.string(),
                    " has vocab_size ", header.vocab_size, " (wrong tokenizer for this model?)"));
  auto token = [&](int64_t id) {
    const auto it = tokens.find(id);
    if (it == tokens.end()) throw Error(cat(tokenizer_model.string(), ": no token with id ", id));
    return it->second;
  };
  const std::string unk = token(kUnkId), bos = token(kBosId), eos = token(kEosId);

  json tokenizer_config = {
      {"add_bos_token", true},
      {"add_eos_token", false},
      {"bos_token", bos},
      {"eos_token", eos},
      {"unk_token", unk},
      {"pad_token", nullptr},
      {"clean_up_tokenization_spaces", false},
      {"legacy", true},
      {"model_max_length", header.seq_len},
      {"tokenizer_class", "LlamaTokenizer"},
      {"added_tokens_decoder",
       {{std::to_string(kUnkId), special_token_entry(unk)},
        {std::to_string(kBosId), special_token_entry(bos)},
        {std::to_string(kEosId), special_token_entry(eos)}}},
  };
  const json generation_config = {{"bos_token_id", kBosId}, {"eos_token_id", kEosId}};

  safetensors::NamedTensors named(weights.begin(), weights.end());
  write_directory_atomic(out_dir, [&](const fs::path& dir) {
    write_text_atomic(dir / "config.json", dump(hf_config(header)));
    safetensors::write(dir / "model.safetensors", named);
    write_text_atomic(dir / "tokenizer.json", dump(tokenizer));
    write_text_atomic(dir / "tokenizer_config.json", dump(tokenizer_config));
    write_text_atomic(dir / "generation_config.json", dump(generation_config));
  });
}

}  // namespace modelswarm::llama2c
