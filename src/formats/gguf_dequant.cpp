// GGUF tensor types dequantised to float32, one function per block layout, bit for bit what
// gguf-py's gguf.quants.dequantize returns (the test oracle). gguf-py computes in float32 numpy:
// a block's scale is an f16 widened exactly, multiplied by small integers (sub-block scale, code),
// and a minimum is added or subtracted. We do the same operations in float. Every product is
// exact in float (an f16 has 11 significant bits, the integers at most 7 + 6 more, under float's
// 24), so only the final addition rounds: the results do not depend on the order of the
// multiplications, nor on whether the compiler fuses a multiply-add.
//
// Layouts (ggml-common.h; "d" and "m"/"dmin" are f16, elements in the order listed):
//   Q4_0  d, qs[16]            e<16: lo nibble of qs[e], else hi nibble of qs[e-16]; (q-8)*d
//   Q4_1  d, m, qs[16]         nibbles as Q4_0; d*q + m
//   Q5_0  d, qh u32, qs[16]    nibbles as Q4_0, bit 4 = bit e of qh; (q-16)*d
//   Q5_1  d, m, qh, qs[16]     as Q5_0; d*q + m
//   Q8_0  d, qs int8[32]       q*d
//   Q*_K  super-blocks of 256 elements: sub-block scales (and minimums) of 4 to 8 bits, each
//         multiplied by the super-block's f16 d (dmin); see each function.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/gguf.h"

namespace modelswarm::gguf {
namespace {

// IEEE half to float, exact (every half is a float). NaN payloads are kept.
float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);  // inf or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half (mantissa * 2^-24): a normal float once the leading 1 is shifted to bit 10.
    uint32_t e = 127 - 15 + 1;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
// Every half's float, computed once (256 KiB): F16 tensors convert by lookup.
float load_f16(const uint8_t* p) {
  static const std::vector<float> table = [] {
    std::vector<float> t(1 << 16);
    for (uint32_t h = 0; h < t.size(); ++h) t[h] = f16_to_f32(static_cast<uint16_t>(h));
    return t;
  }();
  return table[load_u16(p)];
}

// ---- plain floats (a "block" of one element) ----

void dequant_f32(const uint8_t* b, float* y) {
  const uint32_t bits = load_u32(b);
  std::memcpy(y, &bits, 4);
}
void dequant_f16(const uint8_t* b, float* y) { *y = load_f16(b); }
void dequant_bf16(const uint8_t* b, float* y) {
  const uint32_t bits = static_cast<uint32_t>(load_u16(b)) << 16;  // bf16 is a truncated float
  std::memcpy(y, &bits, 4);
}

// ---- 32-element blocks ----

// The 4-bit code of element e of a 32-element block: low nibbles first, then high nibbles.
int nibble(const uint8_t* qs, int e) { return e < 16 ? qs[e] & 0x0f : qs[e - 16] >> 4; }

void dequant_q4_0(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  for (int e = 0; e < 32; ++e) y[e] = d * static_cast<float>(nibble(b + 2, e) - 8);
}

void dequant_q4_1(const uint8_t* b, float* y) {
  const float d = load_f16(b), m = load_f16(b + 2);
  for (int e = 0; e < 32; ++e) y[e] = d * static_cast<float>(nibble(b + 4, e)) + m;
}

void dequant_q5_0(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const uint32_t qh = load_u32(b + 2);
  for (int e = 0; e < 32; ++e) {
    const int q = nibble(b + 6, e) | static_cast<int>(((qh >> e) & 1) << 4);
    y[e] = d * static_cast<float>(q - 16);
  }
}

void dequant_q5_1(const uint8_t* b, float* y) {
  const float d = load_f16(b), m = load_f16(b + 2);
  const uint32_t qh = load_u32(b + 4);
  for (int e = 0; e < 32; ++e) {
    const int q = nibble(b + 8, e) | static_cast<int>(((qh >> e) & 1) << 4);
    y[e] = d * static_cast<float>(q) + m;
  }
}

void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  for (int e = 0; e < 32; ++e) y[e] = static_cast<float>(static_cast<int8_t>(b[2 + e])) * d;
}

// ---- 256-element super-blocks ----

// Q2_K: scales[16] (low nibble: scale, high nibble: minimum of a 16-element sub-block),
// qs[64] (2-bit codes: element e in bits 2*((e%128)/32) of qs[(e/128)*32 + e%32]), d, dmin.
void dequant_q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = load_f16(b + 80), dmin = load_f16(b + 82);
  for (int sub = 0; sub < 16; ++sub) {
    const float dl = d * static_cast<float>(scales[sub] & 0x0f);
    const float ml = dmin * static_cast<float>(scales[sub] >> 4);
    for (int e = sub * 16; e < sub * 16 + 16; ++e) {
      const int q = (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      y[e] = dl * static_cast<float>(q) - ml;
    }
  }
}

// Q3_K: hmask[32] (bit e/32 of hmask[e%32] set means no -4 offset), qs[64] (2-bit codes as
// Q2_K), scales[12] (sixteen 6-bit signed scales, offset 32: low 4 bits in the nibbles of bytes
// 0-7, high 2 bits in bytes 8-11), d.
void dequant_q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* scales = b + 96;
  const float d = load_f16(b + 108);
  for (int sub = 0; sub < 16; ++sub) {
    const int low = sub < 8 ? scales[sub] & 0x0f : scales[sub - 8] >> 4;
    const int high = (scales[8 + sub % 4] >> (2 * (sub / 4))) & 3;
    const float dl = d * static_cast<float>((low | (high << 4)) - 32);
    for (int e = sub * 16; e < sub * 16 + 16; ++e) {
      const int q2 = (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      const int hbit = (hmask[e % 32] >> (e / 32)) & 1;
      y[e] = dl * static_cast<float>(q2 - (hbit ? 0 : 4));
    }
  }
}

// The 6-bit scale and minimum of sub-block `sub` (0-7) of a Q4_K/Q5_K block, packed in 12 bytes:
// sub < 4 in the low 6 bits of bytes sub and sub+4; sub >= 4 as a nibble of byte sub+4 plus the
// top 2 bits of bytes sub-4 and sub.
void k_scale_min(const uint8_t* s, int sub, int* scale, int* min) {
  if (sub < 4) {
    *scale = s[sub] & 0x3f;
    *min = s[sub + 4] & 0x3f;
  } else {
    *scale = (s[sub + 4] & 0x0f) | ((s[sub - 4] >> 2) & 0x30);
    *min = (s[sub + 4] >> 4) | ((s[sub] >> 2) & 0x30);
  }
}

// Q4_K: d, dmin, scales[12], qs[128] (4-bit codes: element e in nibble (e/32)%2 of
// qs[(e/64)*32 + e%32]); eight 32-element sub-blocks.
void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = load_f16(b), dmin = load_f16(b + 2);
  const uint8_t* qs = b + 16;
  for (int sub = 0; sub < 8; ++sub) {
    int scale, min;
    k_scale_min(b + 4, sub, &scale, &min);
    const float dl = d * static_cast<float>(scale), ml = dmin * static_cast<float>(min);
    for (int i = 0; i < 32; ++i) {
      const int q = (qs[(sub / 2) * 32 + i] >> (4 * (sub % 2))) & 0x0f;
      y[sub * 32 + i] = dl * static_cast<float>(q) - ml;
    }
  }
}

// Q5_K: d, dmin, scales[12], qh[32] (bit 4 of element e: bit e/32 of qh[e%32]), qs[128] as Q4_K.
void dequant_q5_k(const uint8_t* b, float* y) {
  const float d = load_f16(b), dmin = load_f16(b + 2);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int sub = 0; sub < 8; ++sub) {
    int scale, min;
    k_scale_min(b + 4, sub, &scale, &min);
    const float dl = d * static_cast<float>(scale), ml = dmin * static_cast<float>(min);
    for (int i = 0; i < 32; ++i) {
      const int q = ((qs[(sub / 2) * 32 + i] >> (4 * (sub % 2))) & 0x0f) | (((qh[i] >> sub) & 1) << 4);
      y[sub * 32 + i] = dl * static_cast<float>(q) - ml;
    }
  }
}

// Q6_K: ql[128] (low 4 bits: element e in nibble (e%128)/64 of ql[(e/128)*64 + e%64]), qh[64]
// (high 2 bits: bits 2*((e%128)/32) of qh[(e/128)*32 + e%32]), scales int8[16], d; codes offset 32.
void dequant_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const uint8_t* scales = b + 192;
  const float d = load_f16(b + 208);
  for (int sub = 0; sub < 16; ++sub) {
    const float dl = d * static_cast<float>(static_cast<int8_t>(scales[sub]));
    for (int e = sub * 16; e < sub * 16 + 16; ++e) {
      const int half = e / 128, r = e % 128;
      const int low = (ql[half * 64 + r % 64] >> (4 * (r / 64))) & 0x0f;
      const int high = (qh[half * 32 + r % 32] >> (2 * (r / 32))) & 3;
      y[e] = dl * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

// ---- the table ----

using BlockFn = void (*)(const uint8_t* block, float* out);

// Dequantises blocks [begin, end): the per-block function is a template argument so that it is
// inlined into the loop (F32 and F16 have one-element blocks).
template <BlockFn kBlock, int64_t kElements, int64_t kBytes>
void run_blocks(const uint8_t* data, int64_t begin, int64_t end, float* out) {
  for (int64_t i = begin; i < end; ++i) kBlock(data + i * kBytes, out + i * kElements);
}

struct TypeInfo {
  TensorType type;
  const char* name;
  int64_t elements;  // per block
  int64_t bytes;     // per block (gguf-py's GGML_QUANT_SIZES)
  void (*run)(const uint8_t* data, int64_t begin, int64_t end, float* out);
};

template <BlockFn kBlock, int64_t kElements, int64_t kBytes>
constexpr TypeInfo entry(TensorType type, const char* name) {
  return {type, name, kElements, kBytes, &run_blocks<kBlock, kElements, kBytes>};
}

const TypeInfo kTypes[] = {
    entry<dequant_f32, 1, 4>(TensorType::kF32, "F32"),
    entry<dequant_f16, 1, 2>(TensorType::kF16, "F16"),
    entry<dequant_bf16, 1, 2>(TensorType::kBF16, "BF16"),
    entry<dequant_q4_0, 32, 18>(TensorType::kQ4_0, "Q4_0"),
    entry<dequant_q4_1, 32, 20>(TensorType::kQ4_1, "Q4_1"),
    entry<dequant_q5_0, 32, 22>(TensorType::kQ5_0, "Q5_0"),
    entry<dequant_q5_1, 32, 24>(TensorType::kQ5_1, "Q5_1"),
    entry<dequant_q8_0, 32, 34>(TensorType::kQ8_0, "Q8_0"),
    entry<dequant_q2_k, 256, 84>(TensorType::kQ2_K, "Q2_K"),
    entry<dequant_q3_k, 256, 110>(TensorType::kQ3_K, "Q3_K"),
    entry<dequant_q4_k, 256, 144>(TensorType::kQ4_K, "Q4_K"),
    entry<dequant_q5_k, 256, 176>(TensorType::kQ5_K, "Q5_K"),
    entry<dequant_q6_k, 256, 210>(TensorType::kQ6_K, "Q6_K"),
};

const TypeInfo* find_type(uint32_t type) {
  for (const auto& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == type) return &t;
  }
  return nullptr;
}

const TypeInfo& type_info(TensorType type) {
  const TypeInfo* info = find_type(static_cast<uint32_t>(type));
  MS_CHECK(info != nullptr, "GGUF tensor type ", type_name(static_cast<uint32_t>(type)), " is not supported");
  return *info;
}

}  // namespace

// The ggml types dequantize() does not handle, with their blocks (gguf-py's GGML_QUANT_SIZES).
const TypeLayout* unsupported_layout(uint32_t type) {
  static const std::pair<uint32_t, TypeLayout> layouts[] = {
      {9, {"Q8_1", 32, 40}},       {15, {"Q8_K", 256, 292}},   {16, {"IQ2_XXS", 256, 66}}, {17, {"IQ2_XS", 256, 74}},
      {18, {"IQ3_XXS", 256, 98}},  {19, {"IQ1_S", 256, 50}},   {20, {"IQ4_NL", 32, 18}},   {21, {"IQ3_S", 256, 110}},
      {22, {"IQ2_S", 256, 82}},    {23, {"IQ4_XS", 256, 136}}, {24, {"I8", 1, 1}},         {25, {"I16", 1, 2}},
      {26, {"I32", 1, 4}},         {27, {"I64", 1, 8}},        {28, {"F64", 1, 8}},        {29, {"IQ1_M", 256, 56}},
      {34, {"TQ1_0", 256, 54}},    {35, {"TQ2_0", 256, 66}},   {39, {"MXFP4", 32, 17}},
  };
  for (const auto& [number, layout] : layouts)
    if (number == type) return &layout;
  return nullptr;
}

std::optional<TypeLayout> type_layout(uint32_t type) {
  if (const TypeInfo* info = find_type(type)) return TypeLayout{info->name, info->elements, info->bytes};
  if (const TypeLayout* layout = unsupported_layout(type)) return *layout;
  return std::nullopt;
}

std::string type_name(uint32_t type) {
  const auto layout = type_layout(type);
  return layout ? std::string(layout->name) : cat("type ", type);
}

bool is_supported(uint32_t type) { return find_type(type) != nullptr; }

int64_t block_elements(TensorType type) { return type_info(type).elements; }

int64_t block_bytes(TensorType type) { return type_info(type).bytes; }

at::Tensor dequantize(TensorType type, const uint8_t* data, int64_t n) {
  const TypeInfo& info = type_info(type);
  MS_CHECK(n >= 0 && n % info.elements == 0, "cannot dequantize ", n, " elements of ", info.name,
           ": not a multiple of its block size ", info.elements);
  at::Tensor out = at::empty({n}, at::kFloat);
  float* y = out.data_ptr<float>();
  // About 16k elements per task: large enough to amortise the scheduling, small enough to
  // spread a single embedding matrix over every core.
  const int64_t grain = std::max<int64_t>(1, 16384 / info.elements);
  at::parallel_for(0, n / info.elements, grain,
                   [&](int64_t begin, int64_t end) { info.run(data, begin, end, y); });
  return out;
}

}  // namespace modelswarm::gguf
