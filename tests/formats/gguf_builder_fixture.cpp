#include "formats/gguf_builder_fixture.h"

#include <algorithm>
#include <cstring>
#include <fstream>

namespace modelswarm::test {
namespace {

template <typename T>
std::string le(T value) {
  std::string out(sizeof(T), '\0');
  std::memcpy(out.data(), &value, sizeof(T));  // the test machines are little-endian, as GGUF is
  return out;
}

std::string gguf_string(const std::string& s) { return le<uint64_t>(s.size()) + s; }

enum : uint32_t { kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9 };

}  // namespace

void GgufBuilder::raw(const std::string& key, uint32_t type, const std::string& payload) {
  for (auto& kv : kv_)
    if (kv.key == key) {
      kv = {key, type, payload};
      return;
    }
  kv_.push_back({key, type, payload});
}

void GgufBuilder::erase(const std::string& key) {
  kv_.erase(std::remove_if(kv_.begin(), kv_.end(), [&](const KeyValue& kv) { return kv.key == key; }), kv_.end());
}

void GgufBuilder::u32(const std::string& key, uint32_t value) { raw(key, kU32, le(value)); }
void GgufBuilder::f32(const std::string& key, float value) { raw(key, kF32, le(value)); }
void GgufBuilder::boolean(const std::string& key, bool value) { raw(key, kBool, std::string(1, value ? 1 : 0)); }
void GgufBuilder::string(const std::string& key, const std::string& value) { raw(key, kString, gguf_string(value)); }

void GgufBuilder::strings(const std::string& key, const std::vector<std::string>& values) {
  std::string payload = le<uint32_t>(kString) + le<uint64_t>(values.size());
  for (const auto& v : values) payload += gguf_string(v);
  raw(key, kArray, payload);
}

void GgufBuilder::i32s(const std::string& key, const std::vector<int32_t>& values) {
  std::string payload = le<uint32_t>(kI32) + le<uint64_t>(values.size());
  for (int32_t v : values) payload += le(v);
  raw(key, kArray, payload);
}

void GgufBuilder::f32_tensor(const std::string& name, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::string data;
  for (int64_t i = 0; i < n; ++i) data += le(static_cast<float>(0.01 * (i % 100) - 0.5));
  tensor(name, shape, 0, data);
}

void GgufBuilder::tensor(const std::string& name, const std::vector<int64_t>& shape, uint32_t type,
                         std::string data) {
  for (auto& t : tensors_)
    if (t.name == name) {
      t = {name, shape, type, std::move(data)};
      return;
    }
  tensors_.push_back({name, shape, type, std::move(data)});
}

void GgufBuilder::erase_tensor(const std::string& name) {
  tensors_.erase(std::remove_if(tensors_.begin(), tensors_.end(), [&](const Tensor& t) { return t.name == name; }),
                 tensors_.end());
}

void GgufBuilder::shift_offset(const std::string& name, uint64_t delta) {
  for (auto& t : tensors_)
    if (t.name == name) t.extra_offset += delta;
}

std::string GgufBuilder::bytes() const {
  constexpr uint64_t kAlignment = 32;
  std::string out = le(magic) + le(version) + le<uint64_t>(tensors_.size()) + le<uint64_t>(kv_.size());
  for (const auto& kv : kv_) out += gguf_string(kv.key) + le(kv.type) + kv.payload;
  std::string data;
  for (const auto& t : tensors_) {
    out += gguf_string(t.name) + le<uint32_t>(t.shape.size());
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) out += le<uint64_t>(*it);  // ne: innermost first
    out += le(t.type) + le<uint64_t>(data.size() + t.extra_offset);
    data += t.data;
    data.append((kAlignment - data.size() % kAlignment) % kAlignment, '\0');
  }
  out.append((kAlignment - out.size() % kAlignment) % kAlignment, '\0');
  return out + data;
}

std::filesystem::path GgufBuilder::write(const std::filesystem::path& path) const {
  std::ofstream(path, std::ios::binary) << bytes();
  return path;
}

GgufBuilder tiny_llama_gguf(const std::string& architecture) {
  constexpr int64_t D = 32, F = 64, V = 12;
  GgufBuilder g;
  g.string("general.architecture", architecture);
  g.u32("llama.block_count", 1);
  g.u32("llama.context_length", 64);
  g.u32("llama.embedding_length", D);
  g.u32("llama.feed_forward_length", F);
  g.u32("llama.attention.head_count", 2);
  g.u32("llama.attention.head_count_kv", 1);
  g.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  g.f32("llama.rope.freq_base", 10000.0f);
  g.string("tokenizer.ggml.model", "gpt2");
  g.string("tokenizer.ggml.pre", "default");
  g.strings("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "b", "c", "Ġ", "ab", "Ġa", "Ġab", "d", "e", "."});
  g.i32s("tokenizer.ggml.token_type", {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  g.strings("tokenizer.ggml.merges", {"a b", "Ġ a", "Ġa b"});
  g.u32("tokenizer.ggml.bos_token_id", 0);
  g.u32("tokenizer.ggml.eos_token_id", 1);
  g.f32_tensor("token_embd.weight", {V, D});
  g.f32_tensor("blk.0.attn_norm.weight", {D});
  // One Q8_0 tensor: per block of 32, an f16 scale (1.0 = 0x3c00) and 32 int8 values.
  std::string q8;
  for (int64_t block = 0; block < D * D / 32; ++block) {
    q8 += std::string("\x00\x3c", 2);
    for (int i = 0; i < 32; ++i) q8 += static_cast<char>((i * 7 + block) % 11 - 5);
  }
  g.tensor("blk.0.attn_q.weight", {D, D}, /*Q8_0*/ 8, q8);
  g.f32_tensor("blk.0.attn_k.weight", {D / 2, D});
  g.f32_tensor("blk.0.attn_v.weight", {D / 2, D});
  g.f32_tensor("blk.0.attn_output.weight", {D, D});
  g.f32_tensor("blk.0.ffn_norm.weight", {D});
  g.f32_tensor("blk.0.ffn_gate.weight", {F, D});
  g.f32_tensor("blk.0.ffn_up.weight", {F, D});
  g.f32_tensor("blk.0.ffn_down.weight", {D, F});
  g.f32_tensor("output_norm.weight", {D});
  return g;
}

}  // namespace modelswarm::test
