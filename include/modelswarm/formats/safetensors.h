// safetensors: an 8-byte little-endian header length N, N bytes of JSON, then raw tensor data.
// The reader memory-maps the file and validates everything the reference reader validates
// before any byte of data is touched; the writer produces files the Python library loads.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace modelswarm::safetensors {

enum class DType { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
c10::ScalarType to_scalar_type(DType dtype);
DType from_scalar_type(c10::ScalarType type);

struct TensorEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data buffer; end is exclusive
  uint64_t end = 0;
  int64_t numel() const;
};

/// The validated header of a safetensors byte buffer.
struct Header {
  std::vector<TensorEntry> entries;  // sorted by data offset
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;           // 8 + N
};

/// Validates `size` bytes as a safetensors file and returns its header; throws Error starting
/// with `source` (the file name) on any malformation. Never reads outside [data, data+size).
Header parse_header(const uint8_t* data, size_t size, const std::string& source);

/// A memory-mapped, validated safetensors file.
class File {
 public:
  static File open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const std::vector<TensorEntry>& entries() const { return header_.entries; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const TensorEntry* find(const std::string& name) const;
  /// An owning CPU tensor with a copy of the named tensor's data; throws if absent.
  at::Tensor tensor(const std::string& name) const;
  at::Tensor tensor(const TensorEntry& entry) const;

 private:
  struct Mapping;
  std::filesystem::path path_;
  std::shared_ptr<Mapping> mapping_;
  Header header_;
  std::map<std::string, size_t> index_;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

/// Writes tensors (any device; made contiguous on CPU) atomically. The header is padded with
/// spaces to a multiple of 8 bytes and carries __metadata__ {"format": "pt"} plus `metadata`.
void write(const std::filesystem::path& path, const NamedTensors& tensors,
           const std::map<std::string, std::string>& metadata = {});

/// Every tensor of a Hugging Face checkpoint directory: model.safetensors, or the shards named
/// by model.safetensors.index.json. Refuses pickle-only checkpoints (pytorch_model.bin).
std::map<std::string, at::Tensor> load_checkpoint(const std::filesystem::path& directory);

/// Tensor names and shapes of a checkpoint without reading data (for validation and inspect).
std::vector<TensorEntry> checkpoint_entries(const std::filesystem::path& directory);

}  // namespace modelswarm::safetensors
