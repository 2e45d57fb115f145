// A GGUF file built byte by byte in the test, valid or damaged on purpose: the bad-input
// catalogue, the reader's tests and the fuzz seeds start from the tiny model it makes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace modelswarm::test {

class GgufBuilder {
 public:
  uint32_t magic = 0x46554747;  // "GGUF"
  uint32_t version = 3;

  void u32(const std::string& key, uint32_t value);
  void f32(const std::string& key, float value);
  void boolean(const std::string& key, bool value);
  void string(const std::string& key, const std::string& value);
  void strings(const std::string& key, const std::vector<std::string>& values);
  void i32s(const std::string& key, const std::vector<int32_t>& values);
  /// A key whose value is `payload` after the type tag `type` (to write what a writer never would).
  /// Setting a key again replaces its value in place.
  void raw(const std::string& key, uint32_t type, const std::string& payload);
  void erase(const std::string& key);

  /// A float32 tensor of `shape` (row-major) with values 0.01·i − 0.5, wrapped around every 100.
  void f32_tensor(const std::string& name, const std::vector<int64_t>& shape);
  /// A tensor of any ggml type, with its stored bytes as given.
  /// Replaces a tensor of the same name in place.
  void tensor(const std::string& name, const std::vector<int64_t>& shape, uint32_t type, std::string data);
  void erase_tensor(const std::string& name);
  /// Adds `delta` to the data offset the directory states for tensor `name`.
  void shift_offset(const std::string& name, uint64_t delta);

  std::string bytes() const;
  std::filesystem::path write(const std::filesystem::path& path) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    uint32_t type;
    std::string data;
    uint64_t extra_offset = 0;
  };
  struct KeyValue {
    std::string key;
    uint32_t type;
    std::string payload;
  };
  std::vector<KeyValue> kv_;
  std::vector<Tensor> tensors_;
};

/// A complete llama model of one layer (hidden 32, 2 heads, 1 KV head, FFN 64) with a byte-level
/// BPE vocabulary of 12 tokens, one Q8_0 tensor among F32 ones: `convert gguf` accepts it.
/// `architecture` goes in general.architecture only (the keys stay llama.*).
GgufBuilder tiny_llama_gguf(const std::string& architecture = "llama");

}  // namespace modelswarm::test
