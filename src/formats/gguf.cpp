#include "modelswarm/formats/gguf.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "formats/tokenizer/text.h"
#include "modelswarm/common/error.h"

namespace modelswarm::gguf {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;      // GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 8;   // real files nest at most once; deeper is a damaged file

// A read-only mapping of the whole file: tensors are read in place, and the metadata parser
// checks every length against the mapping's size before touching a byte.
class Mapping {
 public:
  explicit Mapping(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    MS_CHECK(fd >= 0, path.string(), ": cannot open (", std::strerror(errno), ")");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw Error(cat(path.string(), ": not a regular file"));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      ::close(fd);
      MS_CHECK(p != MAP_FAILED, path.string(), ": cannot map (", std::strerror(errno), ")");
      data_ = static_cast<const uint8_t*>(p);
    } else {
      ::close(fd);
    }
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Little-endian reads with bounds checks; every failure names the file and what was being read.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, std::string source) : data_(data), size_(size), source_(std::move(source)) {}

  size_t position() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  const std::string& source() const { return source_; }

  template <typename T>
  T scalar(const char* what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string string(const char* what) {
    const uint64_t n = scalar<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

  void need(uint64_t n, const char* what) const {
    MS_CHECK(n <= left(), source_, ": truncated or corrupt GGUF: ", what, " at byte ", pos_, " needs ", n,
             " bytes, the file has ", left(), " left");
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string source_;
};

enum ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// The smallest encoding of one value of `type`, so an array's count can be checked against the
// bytes left before anything is allocated for it.
uint64_t min_value_bytes(uint32_t type) {
  switch (type) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: case kString: return 8;
    case kArray: return 12;
    default: return 0;
  }
}

// The double whose shortest decimal is the float's (1e-05, not 9.999999747378752e-06), so that
// config.json states the value the model's authors wrote; both round to the same float.
double shortest_double(float value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof(text), value).ptr;
  return std::strtod(std::string(text, end).c_str(), nullptr);
}

json read_value(Cursor& in, uint32_t type, const std::string& key, int depth) {
  switch (type) {
    case kU8: return in.scalar<uint8_t>("a u8 value");
    case kI8: return in.scalar<int8_t>("an i8 value");
    case kU16: return in.scalar<uint16_t>("a u16 value");
    case kI16: return in.scalar<int16_t>("an i16 value");
    case kU32: return in.scalar<uint32_t>("a u32 value");
    case kI32: return in.scalar<int32_t>("an i32 value");
    case kF32: return shortest_double(in.scalar<float>("an f32 value"));
    case kU64: return in.scalar<uint64_t>("a u64 value");
    case kI64: return in.scalar<int64_t>("an i64 value");
    case kF64: return in.scalar<double>("an f64 value");
    case kBool: {
      const uint8_t b = in.scalar<uint8_t>("a bool value");
      MS_CHECK(b <= 1, in.source(), ": metadata ", key, ": bool value ", int(b), " is neither 0 nor 1");
      return b == 1;
    }
    case kString: {
      std::string text = in.string("a string value");
      // GGUF strings are UTF-8; anything else would reach tokenizer.json and config.json.
      MS_CHECK(tokenizer::is_valid_utf8(text), in.source(), ": metadata ", key, ": a string value is not valid UTF-8");
      return text;
    }
    case kArray: {
      MS_CHECK(depth < kMaxArrayNesting, in.source(), ": metadata ", key, ": arrays nested over ", kMaxArrayNesting,
               " deep");
      const uint32_t element_type = in.scalar<uint32_t>("an array's element type");
      const uint64_t count = in.scalar<uint64_t>("an array's length");
      const uint64_t min_bytes = min_value_bytes(element_type);
      MS_CHECK(min_bytes > 0, in.source(), ": metadata ", key, ": unknown array element type ", element_type);
      MS_CHECK(count <= in.left() / min_bytes, in.source(), ": truncated or corrupt GGUF: metadata ", key,
               " claims ", count, " elements, more than the ", in.left(), " bytes left can hold");
      json array = json::array();
      array.get_ref<json::array_t&>().reserve(count);
      for (uint64_t i = 0; i < count; ++i) array.push_back(read_value(in, element_type, key, depth + 1));
      return array;
    }
    default:
      throw Error(cat(in.source(), ": metadata ", key, ": unknown value type ", type, " at byte ", in.position()));
  }
}

uint64_t round_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string describe(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct File::Impl {
  fs::path path;
  Mapping mapping;
  uint32_t version = 0;
  json metadata = json::object();
  std::vector<TensorInfo> tensors;
  std::unordered_map<std::string, size_t> by_name;

  explicit Impl(const fs::path& p) : path(p), mapping(p) {}

  void parse() {
    const std::string source = path.string();
    Cursor in(mapping.data(), mapping.size(), source);
    MS_CHECK(mapping.size() >= 4 && in.scalar<uint32_t>("the magic") == kMagic, source,
             ": not a GGUF file (it does not start with \"GGUF\")");
    version = in.scalar<uint32_t>("the version");
    MS_CHECK(version == 2 || version == 3, source, ": GGUF version ", version,
             " is not supported (versions 2 and 3 are; version 1 files predate 2023-08: reconvert them)");
    const uint64_t tensor_count = in.scalar<uint64_t>("the tensor count");
    const uint64_t kv_count = in.scalar<uint64_t>("the metadata count");
    // A key/value pair takes at least 8 + 4 + 1 bytes, a tensor info at least 8 + 4 + 8 + 4 + 8.
    MS_CHECK(kv_count <= in.left() / 13, source, ": truncated or corrupt GGUF: ", kv_count,
             " metadata entries cannot fit in the ", in.left(), " bytes left");
    MS_CHECK(tensor_count <= in.left() / 32, source, ": truncated or corrupt GGUF: ", tensor_count,
             " tensors cannot fit in the ", in.left(), " bytes left");

    for (uint64_t i = 0; i < kv_count; ++i) {
      const std::string key = in.string("a metadata key");
      MS_CHECK(tokenizer::is_valid_utf8(key), source, ": a metadata key is not valid UTF-8");
      const uint32_t type = in.scalar<uint32_t>("a metadata value type");
      MS_CHECK(!metadata.contains(key), source, ": metadata key ", key, " appears twice");
      metadata[key] = read_value(in, type, key, 0);
    }
    const uint64_t alignment = read_alignment(source);

    tensors.reserve(tensor_count);
    for (uint64_t i = 0; i < tensor_count; ++i) tensors.push_back(read_tensor_info(in, source));
    const uint64_t data_start = round_up(in.position(), alignment);
    for (auto& t : tensors) place(t, data_start, alignment, source);
  }

  uint64_t read_alignment(const std::string& source) const {
    if (!metadata.contains("general.alignment")) return kDefaultAlignment;
    const json& a = metadata["general.alignment"];
    MS_CHECK(a.is_number_unsigned() && a.get<uint64_t>() > 0 && a.get<uint64_t>() <= (1u << 20) &&
                 (a.get<uint64_t>() & (a.get<uint64_t>() - 1)) == 0,
             source, ": metadata general.alignment must be a power of two up to 2^20, not ", describe(a));
    return a.get<uint64_t>();
  }

  TensorInfo read_tensor_info(Cursor& in, const std::string& source) {
    TensorInfo t;
    t.name = in.string("a tensor name");
    MS_CHECK(tokenizer::is_valid_utf8(t.name), source, ": a tensor name is not valid UTF-8");
    MS_CHECK(!by_name.count(t.name), source, ": tensor ", t.name, " appears twice");
    const uint32_t n_dims = in.scalar<uint32_t>("a tensor's dimension count");
    MS_CHECK(n_dims >= 1 && n_dims <= kMaxDims, source, ": tensor ", t.name, " has ", n_dims,
             " dimensions (1 to ", kMaxDims, " allowed)");
    std::vector<int64_t> ne(n_dims);
    int64_t numel = 1;
    for (auto& d : ne) {
      const uint64_t v = in.scalar<uint64_t>("a tensor dimension");
      MS_CHECK(v >= 1 && v <= (uint64_t{1} << 40) && !__builtin_mul_overflow(numel, static_cast<int64_t>(v), &numel),
               source, ": tensor ", t.name, " has an impossible dimension ", v);
      d = static_cast<int64_t>(v);
    }
    t.shape.assign(ne.rbegin(), ne.rend());
    t.type = in.scalar<uint32_t>("a tensor type");
    const auto layout = type_layout(t.type);
    MS_CHECK(layout.has_value(), source, ": tensor ", t.name, " has unknown ggml type ", t.type);
    MS_CHECK(ne[0] % layout->block_elements == 0, source, ": tensor ", t.name, " has rows of ", ne[0],
             " elements, not a multiple of ", layout->name, "'s block of ", layout->block_elements);
    MS_CHECK(!__builtin_mul_overflow(static_cast<uint64_t>(numel / layout->block_elements),
                                     static_cast<uint64_t>(layout->block_bytes), &t.bytes),
             source, ": tensor ", t.name, " is impossibly large");
    t.offset = in.scalar<uint64_t>("a tensor offset");
    by_name[t.name] = tensors.size();
    return t;
  }

  void place(TensorInfo& t, uint64_t data_start, uint64_t alignment, const std::string& source) const {
    MS_CHECK(t.offset % alignment == 0, source, ": tensor ", t.name, " starts at data offset ", t.offset,
             ", not a multiple of the alignment ", alignment);
    uint64_t start = 0, end = 0;
    const bool fits = !__builtin_add_overflow(data_start, t.offset, &start) &&
                      !__builtin_add_overflow(start, t.bytes, &end) && end <= mapping.size();
    MS_CHECK(fits, source, ": truncated or corrupt GGUF: tensor ", t.name, " (", t.bytes, " bytes at data offset ",
             t.offset, ") lies beyond the end of the file (", mapping.size(), " bytes)");
    t.offset = start;
  }
};

File::File(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

File File::open(const fs::path& path) {
  auto impl = std::make_unique<Impl>(path);
  impl->parse();
  return File(std::move(impl));
}

const fs::path& File::path() const { return impl_->path; }
uint32_t File::version() const { return impl_->version; }
const json& File::metadata() const { return impl_->metadata; }
const std::vector<TensorInfo>& File::tensors() const { return impl_->tensors; }

const json& File::require(const std::string& key) const {
  const auto it = impl_->metadata.find(key);
  MS_CHECK(it != impl_->metadata.end(), impl_->path.string(), ": metadata key ", key, " is missing");
  return *it;
}

const TensorInfo* File::find(const std::string& name) const {
  const auto it = impl_->by_name.find(name);
  return it == impl_->by_name.end() ? nullptr : &impl_->tensors[it->second];
}

at::Tensor File::read(const TensorInfo& info) const {
  if (!is_supported(info.type)) {
    throw Error(cat(impl_->path.string(), ": tensor ", info.name, " has type ", type_name(info.type),
                    ", which modelswarm does not dequantise (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and "
                    "Q2_K to Q6_K are supported)"));
  }
  const at::Tensor flat = dequantize(static_cast<TensorType>(info.type), impl_->mapping.data() + info.offset,
                                     info.numel());
  return flat.view(info.shape);
}

}  // namespace modelswarm::gguf
