// GGUF dequantisation: every supported type read through gguf::File against what gguf-py's own
// gguf.quants.dequantize makes of the same bytes (tests/python/gguf_oracle.py), bit for bit, and
// a few blocks built by hand so that a failure of the oracle run still leaves a readable check.
#include "modelswarm/formats/gguf.h"

#include <ATen/ATen.h>

#include <cstring>
#include <set>
#include <vector>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/safetensors.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

namespace fs = std::filesystem;
using gguf::TensorType;

std::vector<float> values_of(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

TEST(GgufDequant, MatchesGgufPyBitForBit) {
  const fs::path dir = test::cached_oracle("gguf-quants", "gguf_oracle.py", {});
  ASSERT_FALSE(dir.empty());
  const auto file = gguf::File::open(dir / "quants.gguf");
  const auto expected = safetensors::File::open(dir / "expected.safetensors");
  EXPECT_EQ(file.tensors().size(), expected.entries().size());

  std::set<uint32_t> seen;
  for (const auto& info : file.tensors()) {
    const std::string what = cat(info.name, " (", gguf::type_name(info.type), ")");
    const at::Tensor want = expected.tensor(info.name);
    const at::Tensor got = file.read(info);
    ASSERT_EQ(got.scalar_type(), at::kFloat) << what;
    ASSERT_EQ(got.sizes(), want.sizes()) << what;
    // Bit patterns, not values: signed zeros and NaN payloads count, and NaN == NaN.
    const at::Tensor differ = got.view(at::kInt).ne(want.view(at::kInt)).reshape(-1);
    const int64_t wrong = differ.sum().item<int64_t>();
    if (wrong > 0) {
      const int64_t i = differ.nonzero()[0].item<int64_t>();
      ADD_FAILURE() << what << ": " << wrong << " of " << got.numel() << " elements differ from gguf-py, first at flat index "
                    << i << ": " << got.reshape(-1)[i].item<float>() << " instead of " << want.reshape(-1)[i].item<float>();
    }
    seen.insert(info.type);
  }
  for (uint32_t type = 0; type < 64; ++type) {
    if (gguf::is_supported(type)) EXPECT_TRUE(seen.count(type)) << gguf::type_name(type) << " missing from the oracle file";
  }
}

// f16 bit patterns of the scales used below.
constexpr uint16_t kHalf = 0x3800;     // 0.5
constexpr uint16_t kQuarter = 0x3400;  // 0.25
constexpr uint16_t kMinusOne = 0xBC00;  // -1.0

void put_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }  // little-endian hosts only

TEST(GgufDequant, Q8_0BlockByHand) {
  // d = 0.5, codes -16 .. 15 as int8: element e is (e - 16) * 0.5.
  uint8_t block[34];
  put_u16(block, kHalf);
  for (int e = 0; e < 32; ++e) block[2 + e] = static_cast<uint8_t>(static_cast<int8_t>(e - 16));
  const std::vector<float> y = values_of(gguf::dequantize(TensorType::kQ8_0, block, 32));
  ASSERT_EQ(y.size(), 32u);
  for (int e = 0; e < 32; ++e) EXPECT_EQ(y[e], (e - 16) * 0.5f) << "element " << e;
}

TEST(GgufDequant, Q4_1BlockByHand) {
  // d = 0.25, m = -1; byte j holds code j (low nibble, element j) and 15 - j (high nibble,
  // element 16 + j).
  uint8_t block[20];
  put_u16(block, kQuarter);
  put_u16(block + 2, kMinusOne);
  for (int j = 0; j < 16; ++j) block[4 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const std::vector<float> y = values_of(gguf::dequantize(TensorType::kQ4_1, block, 32));
  ASSERT_EQ(y.size(), 32u);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j * 0.25f - 1) << "element " << j;
    EXPECT_EQ(y[16 + j], (15 - j) * 0.25f - 1) << "element " << 16 + j;
  }
}

TEST(GgufDequant, TypeNamesAndSizes) {
  EXPECT_EQ(gguf::type_name(23), "IQ4_XS");  // a ggml type we do not dequantise
  EXPECT_FALSE(gguf::is_supported(23));
  EXPECT_EQ(gguf::type_layout(23)->block_bytes, 136);  // so the reader still checks its size
  EXPECT_EQ(gguf::type_name(99), "type 99");
  EXPECT_FALSE(gguf::type_layout(99).has_value());
  EXPECT_EQ(gguf::type_name(12), "Q4_K");
  EXPECT_TRUE(gguf::is_supported(30));
  EXPECT_EQ(gguf::block_elements(TensorType::kQ6_K), 256);
  EXPECT_EQ(gguf::block_bytes(TensorType::kQ6_K), 210);
  EXPECT_EQ(gguf::block_elements(TensorType::kF32), 1);
  EXPECT_EQ(gguf::block_bytes(TensorType::kF32), 4);
  EXPECT_THROW(gguf::block_bytes(static_cast<TensorType>(23)), Error);
}

TEST(GgufDequant, RefusesPartialBlocksAndUnsupportedTypes) {
  const std::vector<uint8_t> zeros(64, 0);
  EXPECT_NE(test::message_of<Error>([&] { gguf::dequantize(TensorType::kQ4_0, zeros.data(), 31); })
                .find("not a multiple of its block size 32"),
            std::string::npos);
  EXPECT_NE(test::message_of<Error>([&] { gguf::dequantize(static_cast<TensorType>(23), zeros.data(), 32); })
                .find("IQ4_XS is not supported"),
            std::string::npos);
  EXPECT_EQ(gguf::dequantize(TensorType::kQ4_K, nullptr, 0).numel(), 0);
}

}  // namespace
}  // namespace modelswarm
