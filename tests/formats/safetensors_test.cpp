#include "modelswarm/formats/safetensors.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
namespace st = safetensors;

// A file from a header JSON string and a data buffer, bypassing our writer's checks.
fs::path write_raw(const fs::path& path, const std::string& header, const std::string& data,
                   std::optional<uint64_t> declared_length = std::nullopt) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = declared_length.value_or(header.size());
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
  return path;
}

std::string expect_malformed(const fs::path& path) {
  try {
    st::File::open(path);
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one-line message expected: " << message;
    return message;
  }
  ADD_FAILURE() << path << " was accepted";
  return "";
}

std::string to_hex(const at::Tensor& t) {
  static const char* digits = "0123456789abcdef";
  at::Tensor c = t.contiguous();
  const auto* p = static_cast<const uint8_t*>(c.data_ptr());
  std::string out;
  for (int64_t i = 0; i < c.numel() * c.element_size(); ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

TEST(Safetensors, RoundTripsEveryDtype) {
  auto dir = test::temp_dir("st");
  st::NamedTensors tensors;
  at::Tensor base = at::arange(-6, 6, at::kFloat).reshape({3, 4}) / 4;
  for (auto type : {at::kBool, at::kByte, at::kChar, at::kShort, at::kHalf, at::kBFloat16, at::kInt, at::kFloat,
                    at::kDouble, at::kLong, at::kUInt16, at::kUInt32, at::kUInt64, at::kFloat8_e4m3fn, at::kFloat8_e5m2}) {
    tensors.emplace_back(std::string("t_") + c10::toString(type), (type == at::kBool ? base > 0 : base.abs()).to(type));
  }
  tensors.emplace_back("scalar", at::scalar_tensor(2.5, at::kFloat));
  tensors.emplace_back("empty", at::zeros({0, 7}, at::kFloat));
  st::write(dir / "all.safetensors", tensors, {{"note", "test"}});

  auto file = st::File::open(dir / "all.safetensors");
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("note"), "test");
  ASSERT_EQ(file.entries().size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    at::Tensor back = file.tensor(name);
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(back.sizes(), t.sizes()) << name;
    EXPECT_EQ(to_hex(back), to_hex(t)) << name;
  }
  // The header is padded to a multiple of 8 bytes.
  std::ifstream in(dir / "all.safetensors", std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, InteroperatesWithThePythonLibraryBitForBit) {
  auto dir = test::temp_dir("py");
  // Theirs -> ours.
  ASSERT_TRUE(test::run_python("safetensors_oracle.py", {"write", (dir / "theirs.safetensors").string()}));
  std::string listing;
  ASSERT_TRUE(test::run_python("safetensors_oracle.py", {"read", (dir / "theirs.safetensors").string()}, &listing));
  auto expected = nlohmann::json::parse(listing);
  auto theirs = st::File::open(dir / "theirs.safetensors");
  ASSERT_EQ(theirs.entries().size(), expected.size());
  for (const auto& [name, info] : expected.items()) {
    const auto* e = theirs.find(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(st::dtype_name(e->dtype), info["dtype"].get<std::string>()) << name;
    EXPECT_EQ(e->shape, info["shape"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(to_hex(theirs.tensor(name)), info["hex"].get<std::string>()) << name;
  }
  // Ours -> theirs: every tensor read back by Python with identical bytes.
  st::NamedTensors ours;
  for (const auto& e : theirs.entries()) ours.emplace_back(e.name, theirs.tensor(e));
  st::write(dir / "ours.safetensors", ours);
  std::string ours_listing;
  ASSERT_TRUE(test::run_python("safetensors_oracle.py", {"read", (dir / "ours.safetensors").string()}, &ours_listing));
  EXPECT_EQ(nlohmann::json::parse(ours_listing), expected);
}

TEST(Safetensors, RejectsEachMalformation) {
  auto dir = test::temp_dir("bad");
  const std::string good_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data(8, '\0');
  write_raw(dir / "good.safetensors", good_header, data);
  EXPECT_NO_THROW(st::File::open(dir / "good.safetensors"));

  struct Case {
    const char* name;
    fs::path path;
    const char* expected_words;
  };
  std::vector<Case> cases = {
      {"empty file", write_raw(dir / "empty.safetensors", "", "", 0), "header does not start"},
      {"header length past EOF", write_raw(dir / "past.safetensors", good_header, data, 5000), "past the end"},
      {"header longer than the bound", write_raw(dir / "huge.safetensors", good_header, data, 200'000'000), "exceeds the limit"},
      {"truncated data", write_raw(dir / "trunc.safetensors", good_header, data.substr(0, 5)), "truncated"},
      {"trailing bytes", write_raw(dir / "trail.safetensors", good_header, data + "xx"), "trailing"},
      {"gap", write_raw(dir / "gap.safetensors",
                        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                        std::string(12, '\0')), "gap"},
      {"overlap", write_raw(dir / "overlap.safetensors",
                            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            data), "overlaps"},
      {"shape x dtype mismatch", write_raw(dir / "shape.safetensors",
                                           R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data), "shape"},
      {"shape overflow", write_raw(dir / "overflow.safetensors",
                                   R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data),
       "overflows"},
      {"bad JSON", write_raw(dir / "json.safetensors", R"({"a":{"dtype":"F32",)", data), "JSON"},
      {"invalid UTF-8", write_raw(dir / "utf8.safetensors", "{\"\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data), "UTF-8"},
      {"duplicate names", write_raw(dir / "dup.safetensors",
                                    R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                    data), "appears twice"},
      {"non-object header", write_raw(dir / "array.safetensors", R"([1,2,3])", ""), "does not start with '{'"},
      {"unknown dtype", write_raw(dir / "dtype.safetensors", R"({"a":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", data), "dtype"},
      {"negative shape", write_raw(dir / "neg.safetensors", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data), "non-negative"},
      {"end before begin", write_raw(dir / "order.safetensors", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data), "end"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string message = expect_malformed(c.path);
    EXPECT_NE(message.find(c.expected_words), std::string::npos) << message;
  }
  // A short file cannot even hold the length.
  std::ofstream(dir / "short.safetensors") << "abc";
  EXPECT_NE(expect_malformed(dir / "short.safetensors").find("shorter than"), std::string::npos);
}

TEST(Safetensors, LoadsShardedCheckpointsThroughTheIndex) {
  auto dir = test::temp_dir("sharded");
  st::write(dir / "model-00001-of-00002.safetensors", {{"x", at::ones({2, 2})}});
  st::write(dir / "model-00002-of-00002.safetensors", {{"y", at::zeros({3})}});
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"metadata":{},"weight_map":{"x":"model-00001-of-00002.safetensors","y":"model-00002-of-00002.safetensors"}})";
  auto tensors = st::load_checkpoint(dir);
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_TRUE(tensors.at("x").equal(at::ones({2, 2})));
  EXPECT_EQ(tensors.at("y").sizes(), at::IntArrayRef({3}));

  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map":{"x":"../outside.safetensors"}})";
  EXPECT_THROW(st::load_checkpoint(dir), Error);
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"weight_map":{"x":"model-00001-of-00002.safetensors","z":"model-00002-of-00002.safetensors"}})";
  try {
    st::load_checkpoint(dir);
    ADD_FAILURE() << "an index naming a missing tensor was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'z' is not in model-00002-of-00002.safetensors"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, RefusesPickleCheckpoints) {
  auto dir = test::temp_dir("pickle");
  std::ofstream(dir / "pytorch_model.bin") << "not read";
  try {
    st::load_checkpoint(dir);
    FAIL() << "pickle accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pickle"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace modelswarm
