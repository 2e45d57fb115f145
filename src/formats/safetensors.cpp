#include "modelswarm/formats/safetensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"

namespace modelswarm::safetensors {
namespace fs = std::filesystem;

// The reference reader's bound on the JSON header (safetensors' MAX_HEADER_SIZE).
constexpr uint64_t kMaxHeaderSize = 100'000'000;

namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
  c10::ScalarType scalar;
};

const DTypeInfo kDTypes[] = {
    {DType::BOOL, "BOOL", 1, c10::kBool},     {DType::U8, "U8", 1, c10::kByte},
    {DType::I8, "I8", 1, c10::kChar},         {DType::I16, "I16", 2, c10::kShort},
    {DType::U16, "U16", 2, c10::kUInt16},     {DType::F16, "F16", 2, c10::kHalf},
    {DType::BF16, "BF16", 2, c10::kBFloat16}, {DType::I32, "I32", 4, c10::kInt},
    {DType::U32, "U32", 4, c10::kUInt32},     {DType::F32, "F32", 4, c10::kFloat},
    {DType::F64, "F64", 8, c10::kDouble},     {DType::I64, "I64", 8, c10::kLong},
    {DType::U64, "U64", 8, c10::kUInt64},     {DType::F8_E4M3, "F8_E4M3", 1, c10::kFloat8_e4m3fn},
    {DType::F8_E5M2, "F8_E5M2", 1, c10::kFloat8_e5m2},
};

const DTypeInfo& info(DType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d;
  TORCH_INTERNAL_ASSERT(false, "unknown safetensors dtype");
}

[[noreturn]] void malformed(const std::string& source, const std::string& problem) {
  throw Error(cat(source, ": not a valid safetensors file: ", problem));
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t json_u64(const nlohmann::json& v, const std::string& source, const std::string& what) {
  if (!v.is_number_unsigned()) malformed(source, cat(what, " must be a non-negative integer, got ", v.dump()));
  return v.get<uint64_t>();
}

TensorEntry parse_entry(const std::string& name, const nlohmann::json& v, const std::string& source) {
  if (!v.is_object()) malformed(source, cat("tensor '", name, "': expected an object, got ", v.dump()));
  TensorEntry e;
  e.name = name;
  auto dtype = v.find("dtype");
  if (dtype == v.end() || !dtype->is_string()) malformed(source, cat("tensor '", name, "': missing dtype"));
  const std::string dtype_str = dtype->get<std::string>();
  bool known = false;
  for (const auto& d : kDTypes) {
    if (dtype_str == d.name) { e.dtype = d.dtype; known = true; }
  }
  if (!known) malformed(source, cat("tensor '", name, "': unsupported dtype ", dtype_str));
  auto shape = v.find("shape");
  if (shape == v.end() || !shape->is_array()) malformed(source, cat("tensor '", name, "': missing shape"));
  for (const auto& d : *shape) {
    uint64_t dim = json_u64(d, source, cat("tensor '", name, "': shape entry"));
    if (dim > static_cast<uint64_t>(INT64_MAX)) malformed(source, cat("tensor '", name, "': shape too large"));
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  auto offsets = v.find("data_offsets");
  if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2)
    malformed(source, cat("tensor '", name, "': data_offsets must be [begin, end]"));
  e.begin = json_u64((*offsets)[0], source, cat("tensor '", name, "': data_offsets"));
  e.end = json_u64((*offsets)[1], source, cat("tensor '", name, "': data_offsets"));
  if (e.end < e.begin) malformed(source, cat("tensor '", name, "': data_offsets end ", e.end, " < begin ", e.begin));

  // Overflow-checked product(shape) × dtype size must equal the byte span.
  uint64_t bytes = info(e.dtype).size;
  for (int64_t d : e.shape) {
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes))
      malformed(source, cat("tensor '", name, "': shape × dtype size overflows"));
  }
  if (bytes != e.end - e.begin)
    malformed(source, cat("tensor '", name, "': shape × dtype size is ", bytes, " bytes but data_offsets span ",
                          e.end - e.begin));
  return e;
}

}  // namespace

size_t dtype_size(DType dtype) { return info(dtype).size; }
const char* dtype_name(DType dtype) { return info(dtype).name; }
c10::ScalarType to_scalar_type(DType dtype) { return info(dtype).scalar; }

DType from_scalar_type(c10::ScalarType type) {
  for (const auto& d : kDTypes)
    if (d.scalar == type) return d.dtype;
  throw Error(cat("safetensors: cannot store tensors of dtype ", c10::toString(type)));
}

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Header parse_header(const uint8_t* data, size_t size, const std::string& source) {
  if (size < 8) malformed(source, cat("file is ", size, " bytes, shorter than the 8-byte header length"));
  const uint64_t n = read_u64_le(data);
  if (n > kMaxHeaderSize) malformed(source, cat("header length ", n, " exceeds the limit of ", kMaxHeaderSize, " bytes"));
  if (n > size - 8) malformed(source, cat("header length ", n, " runs past the end of the ", size, "-byte file"));
  if (n == 0 || data[8] != '{') malformed(source, "header does not start with '{'");

  // nlohmann keeps the last of duplicate keys silently: catch duplicates with the callback.
  std::set<std::string> seen_keys;
  std::string duplicate;
  auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen_keys.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + n, on_event);
  } catch (const nlohmann::json::exception& e) {
    malformed(source, cat("header is not valid UTF-8 JSON: ", e.what()));
  }
  if (!duplicate.empty()) malformed(source, cat("tensor name '", duplicate, "' appears twice in the header"));
  if (!header.is_object()) malformed(source, "header is not a JSON object");

  Header h;
  h.data_start = 8 + n;
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__") {
      if (!item.value().is_object()) malformed(source, "__metadata__ must be an object of strings");
      for (const auto& m : item.value().items()) {
        if (!m.value().is_string()) malformed(source, cat("__metadata__ value for '", m.key(), "' is not a string"));
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    h.entries.push_back(parse_entry(item.key(), item.value(), source));
  }
  std::sort(h.entries.begin(), h.entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected_begin = 0;
  for (const auto& e : h.entries) {
    if (e.begin != expected_begin) {
      malformed(source, e.begin > expected_begin
                            ? cat("gap in the data: tensor '", e.name, "' starts at ", e.begin, ", expected ", expected_begin)
                            : cat("tensor '", e.name, "' overlaps the previous tensor (starts at ", e.begin,
                                  ", previous ends at ", expected_begin, ")"));
    }
    expected_begin = e.end;
  }
  const uint64_t data_size = size - h.data_start;
  if (expected_begin != data_size)
    malformed(source, cat("tensor data ends at byte ", expected_begin, " of the data buffer but the buffer holds ",
                          data_size, " bytes (truncated or trailing bytes)"));
  return h;
}

// ---------------------------------------------------------------------------------------------
// File: a read-only memory mapping kept alive by every File that shares it.

struct File::Mapping {
  void* address = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (address && address != MAP_FAILED) ::munmap(address, size);
  }
  const uint8_t* bytes() const { return static_cast<const uint8_t*>(address); }
};

File File::open(const fs::path& path) {
  const std::string source = path.string();
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(cat(source, ": cannot open: ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(cat(source, ": not a regular file"));
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  if (mapping->size > 0) {
    mapping->address = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping->address == MAP_FAILED) {
      ::close(fd);
      throw Error(cat(source, ": cannot memory-map: ", std::strerror(errno)));
    }
  }
  ::close(fd);

  File f;
  f.path_ = path;
  f.header_ = parse_header(mapping->bytes(), mapping->size, source);
  f.mapping_ = std::move(mapping);
  for (size_t i = 0; i < f.header_.entries.size(); ++i) f.index_[f.header_.entries[i].name] = i;
  return f;
}

const TensorEntry* File::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.entries[it->second];
}

at::Tensor File::tensor(const std::string& name) const {
  const TensorEntry* e = find(name);
  if (!e) throw Error(cat(path_.string(), ": no tensor named '", name, "'"));
  return tensor(*e);
}

at::Tensor File::tensor(const TensorEntry& e) const {
  at::Tensor out = at::empty(e.shape, at::TensorOptions().dtype(to_scalar_type(e.dtype)));
  // Copying (rather than aliasing the mapping) gives aligned, owning tensors that outlive the file.
  if (e.end > e.begin) std::memcpy(out.data_ptr(), mapping_->bytes() + header_.data_start + e.begin, e.end - e.begin);
  return out;
}

// ---------------------------------------------------------------------------------------------

void write(const fs::path& path, const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  nlohmann::json meta = {{"format", "pt"}};
  for (const auto& [k, v] : metadata) meta[k] = v;
  header["__metadata__"] = meta;

  std::vector<at::Tensor> contiguous;
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || !names.insert(name).second)
      throw Error(cat(path.string(), ": cannot write tensor name '", name, "' (reserved or repeated)"));
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", dtype_name(from_scalar_type(c.scalar_type()))},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(c));
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  write_file_atomic(path, [&](std::ostream& out) {
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>((static_cast<uint64_t>(json.size()) >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(json.data(), json.size());
    for (const auto& c : contiguous)
      out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * c.element_size()));
  });
}

// ---------------------------------------------------------------------------------------------
// Checkpoint directories: one file or shards listed by an index.

namespace {

struct CheckpointFiles {
  std::vector<fs::path> files;
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name (sharded only)
  fs::path index_path;
};

CheckpointFiles checkpoint_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(cat(dir.string(), ": not a model directory"));
  if (fs::exists(dir / "model.safetensors")) return {{dir / "model.safetensors"}, {}, {}};
  const fs::path index_path = dir / "model.safetensors.index.json";
  if (fs::exists(index_path)) {
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(read_file(index_path));
    } catch (const nlohmann::json::exception& e) {
      throw Error(cat(index_path.string(), ": invalid JSON: ", e.what()));
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw Error(cat(index_path.string(), ": missing the weight_map object"));
    CheckpointFiles result;
    result.index_path = index_path;
    std::set<std::string> shards;
    for (const auto& item : index["weight_map"].items()) {
      if (!item.value().is_string()) throw Error(cat(index_path.string(), ": weight_map['", item.key(), "'] is not a file name"));
      const std::string shard = item.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos || shard == "." || shard == "..")
        throw Error(cat(index_path.string(), ": shard name '", shard, "' must be a plain file name in the model directory"));
      shards.insert(shard);
      result.weight_map[item.key()] = shard;
    }
    for (const auto& s : shards) result.files.push_back(dir / s);
    return result;
  }
  for (const char* pickle : {"pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt"}) {
    if (fs::exists(dir / pickle))
      throw Error(cat(dir.string(), ": only pickle weights (", pickle,
                      ") were found; modelswarm never loads pickle files: convert them to safetensors"));
  }
  throw Error(cat(dir.string(), ": no model.safetensors or model.safetensors.index.json"));
}


// Opens every file of the checkpoint and calls visit(file, entry) for each tensor, checking that
// no tensor is in two shards and that the index tells the truth about where each one is.
template <typename Visit>
void for_each_checkpoint_tensor(const fs::path& dir, Visit visit) {
  const CheckpointFiles checkpoint = checkpoint_files(dir);
  std::set<std::string> names;
  for (const auto& file_path : checkpoint.files) {
    File file = File::open(file_path);
    for (const auto& e : file.entries()) {
      if (!names.insert(e.name).second)
        throw Error(cat(file_path.string(), ": tensor '", e.name, "' also appears in another shard"));
      visit(file, e);
    }
  }
  for (const auto& [tensor, shard] : checkpoint.weight_map) {
    if (!names.count(tensor))
      throw Error(cat(checkpoint.index_path.string(), ": tensor '", tensor, "' is not in ", shard));
  }
}

}  // namespace

std::map<std::string, at::Tensor> load_checkpoint(const fs::path& dir) {
  std::map<std::string, at::Tensor> out;
  for_each_checkpoint_tensor(dir, [&](const File& file, const TensorEntry& e) { out.emplace(e.name, file.tensor(e)); });
  return out;
}

std::vector<TensorEntry> checkpoint_entries(const fs::path& dir) {
  std::vector<TensorEntry> out;
  for_each_checkpoint_tensor(dir, [&](const File&, const TensorEntry& e) { out.push_back(e); });
  return out;
}

}  // namespace modelswarm::safetensors
