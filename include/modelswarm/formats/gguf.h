// GGUF files (llama.cpp, Ollama): the header, the metadata key/value pairs and the tensor
// directory, read with every count, length and offset checked against the file, and tensors
// dequantised to float (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K).
// Layout (all little-endian): "GGUF", u32 version (2 or 3), u64 tensor count, u64 KV count;
// KV pairs (string key, u32 value type, value); tensor infos (string name, u32 n_dims,
// u64 ne[n_dims] innermost first, u32 ggml type, u64 offset); padding to general.alignment
// (default 32); the tensor data. A string is u64 length + bytes.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace modelswarm::gguf {

/// ggml tensor types (ggml.h `enum ggml_type`), the ones this reader dequantises.
enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kBF16 = 30,
};

/// The block of a ggml type: how many elements it holds in how many bytes.
struct TypeLayout {
  const char* name;  // "Q4_1"
  int64_t block_elements;
  int64_t block_bytes;
};
/// Every ggml type's layout, dequantised here or not (so a file's tensor directory can be
/// checked whole); nullopt for a number ggml does not define.
std::optional<TypeLayout> type_layout(uint32_t type);

/// "Q4_1" for a ggml type, "type 99" for an unknown number.
std::string type_name(uint32_t type);
/// Whether dequantize() handles this ggml type.
bool is_supported(uint32_t type);
/// Elements per block and bytes per block of a supported type (F32: 1 and 4).
int64_t block_elements(TensorType type);
int64_t block_bytes(TensorType type);

/// `n` elements of `type` stored at `data` (n·block_bytes/block_elements bytes; n a multiple
/// of the block size) as a 1-D float32 CPU tensor, bit for bit what gguf-py's dequantize gives.
at::Tensor dequantize(TensorType type, const uint8_t* data, int64_t n);

/// A metadata value as error messages quote it: JSON, with bytes that are not UTF-8 replaced
/// (a damaged file's strings may be anything), cut after 80 characters.
std::string describe(const nlohmann::json& value);

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // row-major (torch) order: ggml's ne reversed
  uint32_t type = 0;           // a ggml type; maybe not supported (checked when read)
  uint64_t offset = 0;         // of the first byte, from the start of the file
  uint64_t bytes = 0;
  int64_t numel() const;
};

class File {
 public:
  /// Reads and checks the header, metadata and tensor directory (every tensor within the file,
  /// sizes consistent with their types); throws Error naming the file and what is wrong.
  static File open(const std::filesystem::path& path);

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  const std::filesystem::path& path() const;
  uint32_t version() const;
  /// Every metadata value by key: integers, floats, bools, strings and (nested) arrays as JSON.
  const nlohmann::json& metadata() const;
  /// The value of `key`, or an Error naming the file and the missing key.
  const nlohmann::json& require(const std::string& key) const;
  const std::vector<TensorInfo>& tensors() const;
  /// nullptr when there is no tensor of that name.
  const TensorInfo* find(const std::string& name) const;
  /// The tensor dequantised to float32 (CPU, row-major `info.shape`); an Error naming the file
  /// and tensor for an unsupported type.
  at::Tensor read(const TensorInfo& info) const;

 private:
  struct Impl;
  explicit File(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace modelswarm::gguf
