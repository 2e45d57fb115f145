// llama2.c checkpoints: the layout and validation on small synthetic files, and the conversion
// of the real stories260K checkpoint checked against llama2.c's own forward pass (our engine)
// and against Hugging Face transformers + tokenizers (tests/python/llama2c_oracle.py).
#include "modelswarm/formats/llama2c.h"

#include <ATen/ATen.h>

#include <climits>
#include <fstream>
#include <nlohmann/json.hpp>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/model/generate.h"
#include "modelswarm/model/transformer.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// dim 8, hidden 12, 2 layers, 2 heads (hd 4), 1 kv head, vocab 10, seq_len 6.
constexpr int32_t kTiny[7] = {8, 12, 2, 2, 1, 10, 6};

// Floats a header implies, counted here independently of the reader.
int64_t float_count(const int32_t (&h)[7]) {
  const int64_t D = h[0], F = h[1], L = h[2], H = h[3], K = h[4], V = std::abs(h[5]), S = h[6];
  const int64_t Dkv = D * K / H, hd = D / H;
  return V * D + L * D + L * D * D + 2 * L * Dkv * D + L * D * D + L * D + 3 * L * F * D + D + S * hd +
         (h[5] < 0 ? V * D : 0);
}

// Writes a header and `floats` (all of them by default) values 0, 1, 2, ... so that every
// weight says where it came from.
fs::path write_checkpoint(const fs::path& path, const int32_t (&header)[7], int64_t floats = -1) {
  if (floats < 0) floats = float_count(header);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(header), sizeof(header));
  const at::Tensor data = at::arange(floats, at::kFloat);
  out.write(static_cast<const char*>(data.data_ptr()), floats * 4);
  return path;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Where a weight starts in the synthetic file, in floats (the value stored there).
struct Offsets {
  int64_t wq, wk, w1, rms_final, wcls;
};
Offsets offsets_of(const int32_t (&h)[7]) {
  const int64_t D = h[0], F = h[1], L = h[2], H = h[3], K = h[4], V = std::abs(h[5]), S = h[6];
  const int64_t Dkv = D * K / H;
  Offsets o{};
  o.wq = V * D + L * D;
  o.wk = o.wq + L * D * D;
  o.w1 = o.wk + 2 * L * Dkv * D + L * D * D + L * D;
  o.rms_final = o.w1 + 3 * L * F * D;
  o.wcls = o.rms_final + D + S * (D / H);
  return o;
}

TEST(Llama2cCheckpoint, WeightsLandUnderHuggingFaceNamesWithRotateHalfRows) {
  const fs::path bin = write_checkpoint(test::temp_dir("ckpt") / "tiny.bin", kTiny);
  llama2c::Header header;
  const auto w = llama2c::read_weights(bin, &header);
  EXPECT_EQ(header.dim, 8);
  EXPECT_EQ(header.kv_dim(), 4);
  EXPECT_TRUE(header.shared_classifier);
  EXPECT_EQ(w.size(), 1 + 2 * 9 + 1u) << "tied: no lm_head";
  EXPECT_EQ(w.count("lm_head.weight"), 0u);

  const Offsets o = offsets_of(kTiny);
  const int64_t D = 8, F = 12, hd = 4, Dkv = 4;
  EXPECT_EQ(w.at("model.embed_tokens.weight")[3][5].item<float>(), 3 * D + 5);
  EXPECT_EQ(w.at("model.layers.1.input_layernorm.weight")[2].item<float>(), 10 * D + D + 2);
  EXPECT_EQ(w.at("model.layers.1.mlp.gate_proj.weight")[4][7].item<float>(), o.w1 + F * D + 4 * D + 7);
  EXPECT_EQ(w.at("model.norm.weight")[0].item<float>(), o.rms_final);
  EXPECT_EQ(w.at("model.layers.1.mlp.down_proj.weight").sizes(), at::IntArrayRef({D, F}));

  // HF row h·hd + s·hd/2 + i holds llama2.c row h·hd + 2i + s: pairs become halves.
  const at::Tensor q = w.at("model.layers.1.self_attn.q_proj.weight");  // (D, D)
  const at::Tensor k = w.at("model.layers.1.self_attn.k_proj.weight");  // (Dkv, D)
  ASSERT_EQ(k.sizes(), at::IntArrayRef({Dkv, D}));
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < hd / 2; ++i)
      for (int64_t s = 0; s < 2; ++s) {
        const int64_t hf_row = h * hd + s * hd / 2 + i, file_row = h * hd + 2 * i + s;
        EXPECT_EQ(q[hf_row][0].item<float>(), o.wq + D * D + file_row * D);
        if (h == 0) EXPECT_EQ(k[hf_row][0].item<float>(), o.wk + Dkv * D + file_row * D);
      }
  // v is not rotated: rows stay.
  EXPECT_EQ(w.at("model.layers.0.self_attn.v_proj.weight")[1][0].item<float>(), o.wk + 2 * Dkv * D + D);
}

TEST(Llama2cCheckpoint, RotateHalfPermutationMatchesTransformersConverter) {
  // transformers' convert_llama_weights_to_hf: w.view(H, hd/2, 2, in).transpose(1, 2).reshape(H·hd, in)
  const int64_t H = 2, hd = 6, in = 3;
  const at::Tensor w = at::arange(H * hd * in, at::kFloat).view({H * hd, in});
  const at::Tensor hf = llama2c::interleaved_to_rotate_half(w, H);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < hd / 2; ++i)
      for (int64_t s = 0; s < 2; ++s)
        EXPECT_TRUE(at::equal(hf[h * hd + s * hd / 2 + i], w[h * hd + 2 * i + s])) << h << " " << i << " " << s;
}

TEST(Llama2cCheckpoint, NegativeVocabMeansSeparateClassifier) {
  constexpr int32_t kUnshared[7] = {8, 12, 2, 4, 4, -10, 6};
  const fs::path bin = write_checkpoint(test::temp_dir("ckpt") / "unshared.bin", kUnshared);
  llama2c::Header header;
  const auto w = llama2c::read_weights(bin, &header);
  EXPECT_FALSE(header.shared_classifier);
  EXPECT_EQ(header.vocab_size, 10);
  ASSERT_EQ(w.count("lm_head.weight"), 1u);
  EXPECT_EQ(w.at("lm_head.weight").sizes(), at::IntArrayRef({10, 8}));
  EXPECT_EQ(w.at("lm_head.weight")[0][0].item<float>(), offsets_of(kUnshared).wcls);
  EXPECT_EQ(w.at("lm_head.weight")[9][7].item<float>(), float_count(kUnshared) - 1);

  const json config = llama2c::hf_config(header);
  EXPECT_EQ(config["tie_word_embeddings"], false);
  EXPECT_EQ(config["vocab_size"], 10);
  EXPECT_EQ(config["num_key_value_heads"], 4);
  EXPECT_EQ(config["max_position_embeddings"], 6);
}

TEST(Llama2cCheckpoint, SizeMustMatchTheHeaderExactly) {
  const fs::path dir = test::temp_dir("ckpt");
  const int64_t n = float_count(kTiny);
  const std::string truncated =
      error_of([&] { llama2c::read_header(write_checkpoint(dir / "short.bin", kTiny, n - 1)); });
  EXPECT_NE(truncated.find((dir / "short.bin").string()), std::string::npos) << truncated;
  EXPECT_NE(truncated.find(cat("implies ", 28 + 4 * n, " bytes")), std::string::npos) << truncated;

  const std::string trailing =
      error_of([&] { llama2c::read_header(write_checkpoint(dir / "long.bin", kTiny, n + 3)); });
  EXPECT_NE(trailing.find(cat("file is ", 28 + 4 * (n + 3), " bytes")), std::string::npos) << trailing;

  // The header claims one more layer than the data holds.
  int32_t lying[7] = {8, 12, 3, 4, 2, 10, 6};
  const std::string liar = error_of([&] { llama2c::read_header(write_checkpoint(dir / "lie.bin", lying, n)); });
  EXPECT_NE(liar.find("n_layers 3"), std::string::npos) << liar;

  std::ofstream(dir / "tiny.bin", std::ios::binary).write("abc", 3);
  EXPECT_NE(error_of([&] { llama2c::read_header(dir / "tiny.bin"); }).find("too short"), std::string::npos);
  EXPECT_NE(error_of([&] { llama2c::read_header(dir / "absent.bin"); }).find("absent.bin: cannot read"),
            std::string::npos);
}

TEST(Llama2cCheckpoint, BadHeaderValuesAreNamed) {
  struct Case {
    int32_t header[7];
    const char* message;
  };
  const Case cases[] = {
      {{0, 12, 2, 4, 2, 10, 6}, "dim is 0 (must be positive)"},
      {{8, -12, 2, 4, 2, 10, 6}, "hidden_dim is -12"},
      {{8, 12, 0, 4, 2, 10, 6}, "n_layers is 0"},
      {{8, 12, 2, -4, 2, 10, 6}, "n_heads is -4"},
      {{8, 12, 2, 4, 0, 10, 6}, "n_kv_heads is 0"},
      {{8, 12, 2, 4, 2, 0, 6}, "vocab_size is 0 (must be non-zero)"},
      {{8, 12, 2, 4, 2, 10, -1}, "seq_len is -1"},
      {{8, 12, 2, 3, 3, 10, 6}, "n_heads 3 does not divide dim 8"},
      {{8, 12, 2, 8, 8, 10, 6}, "head size dim/n_heads = 1 is odd"},
      {{8, 12, 2, 4, 3, 10, 6}, "n_kv_heads 3 does not divide n_heads 4"},
      {{8, 12, 2, 4, 8, 10, 6}, "n_kv_heads 8 does not divide n_heads 4"},
      {{1 << 30, INT32_MAX, INT32_MAX, 2, 2, INT32_MAX, INT32_MAX}, "implies an impossible size"},
      {{0x616b3432, 1, 0, 0, 0, 0, 0}, "versioned llama2.c checkpoint"},
  };
  const fs::path dir = test::temp_dir("ckpt");
  for (const Case& c : cases) {
    const fs::path bin = dir / "bad.bin";
    {
      std::ofstream out(bin, std::ios::binary);
      out.write(reinterpret_cast<const char*>(c.header), sizeof(c.header));
      out.write(std::string(64, '\0').data(), 64);
    }
    const std::string message = error_of([&] { llama2c::read_header(bin); });
    EXPECT_NE(message.find(c.message), std::string::npos) << "got: " << message;
    EXPECT_EQ(message.rfind(bin.string(), 0), 0u) << "must start with the file: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

// ---------------------------------------------------------------------------------------------
// The real stories260K checkpoint

fs::path stories() { return test::shared_dir() / "fixtures" / "stories260K"; }

// Converted once per test process.
const fs::path& converted_stories() {
  static const fs::path dir = [] {
    const fs::path out = test::temp_dir("stories260K-hf").parent_path() / "stories260K-hf-shared";
    llama2c::convert(stories() / "stories260K.bin", stories() / "tok512.model", out);
    return out;
  }();
  return dir;
}

json forward_reference() { return json::parse(read_file(stories() / "forward_reference.json")); }

at::Tensor reference_logits(const json& c) {
  std::vector<float> flat;
  for (const auto& row : c["logits"])
    for (const auto& v : row) flat.push_back(v.get<float>());
  return at::tensor(flat).view({static_cast<int64_t>(c["logits"].size()), -1});
}

TEST(Llama2cStories, ConvertedDirectoryHasHuggingFaceFiles) {
  MS_REQUIRE_SHARED();
  const fs::path dir = converted_stories();
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                        "generation_config.json"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  const json config = json::parse(read_file(dir / "config.json"));
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["hidden_size"], 64);
  EXPECT_EQ(config["intermediate_size"], 172);
  EXPECT_EQ(config["num_hidden_layers"], 5);
  EXPECT_EQ(config["num_attention_heads"], 8);
  EXPECT_EQ(config["num_key_value_heads"], 4);
  EXPECT_EQ(config["vocab_size"], 512);
  EXPECT_EQ(config["max_position_embeddings"], 512);
  EXPECT_EQ(config["tie_word_embeddings"], true);
  const json tokenizer_config = json::parse(read_file(dir / "tokenizer_config.json"));
  EXPECT_EQ(tokenizer_config["bos_token"], "<s>");
  EXPECT_EQ(tokenizer_config["eos_token"], "</s>");
  EXPECT_EQ(tokenizer_config["model_max_length"], 512);
  const auto entries = safetensors::checkpoint_entries(dir);
  EXPECT_EQ(entries.size(), 1 + 5 * 9 + 1u) << "tied classifier: no lm_head.weight";
}

TEST(Llama2cStories, EngineMatchesLlama2cLogitsAndGreedyIds) {
  MS_REQUIRE_SHARED();
  const auto model = model::Transformer::load(converted_stories(), c10::Device(c10::kCPU), at::kFloat);
  const json reference = forward_reference();  // the loop must not outlive it (found by ASan)
  for (const json& c : reference["cases"]) {
    const auto ids = c["ids"].get<std::vector<int64_t>>();
    const at::Tensor tokens = at::tensor(ids).view({1, -1});
    const at::Tensor logits = model.forward(tokens, at::ones_like(tokens, at::kBool))[0];  // (T,V)
    EXPECT_LT(test::max_abs_diff(logits, reference_logits(c)), 1e-4) << c["prompt"];

    model::SamplingOptions greedy;
    greedy.max_new_tokens = 40;
    const auto generated = model::generate_ids(model, {ids}, nullptr, greedy);
    EXPECT_EQ(generated.at(0), c["greedy_ids"].get<std::vector<int64_t>>()) << c["prompt"];
  }
}

TEST(Llama2cStories, TransformersAndTokenizersLoadTheConvertedDirectory) {
  MS_REQUIRE_SHARED();
  const fs::path out = test::temp_dir("oracle");
  ASSERT_TRUE(test::run_python("llama2c_oracle.py", {"check", converted_stories().string(),
                                                      (stories() / "forward_reference.json").string(),
                                                      (stories() / "tokenizer_reference.json").string(),
                                                      out.string()}));
  const auto logits = safetensors::File::open(out / "logits.safetensors");
  const json reference = forward_reference();
  const json results = json::parse(read_file(out / "results.json"));
  for (size_t i = 0; i < reference["cases"].size(); ++i) {
    const json& c = reference["cases"][i];
    EXPECT_LT(test::max_abs_diff(logits.tensor(cat("case", i)), reference_logits(c)), 1e-4) << c["prompt"];
    EXPECT_EQ(results["greedy_ids"][i], c["greedy_ids"]) << c["prompt"];
    EXPECT_EQ(results["auto_tokenizer_ids"][i], c["ids"]) << "AutoTokenizer adds BOS: " << c["prompt"];
  }
  const json tokenizer_reference = json::parse(read_file(stories() / "tokenizer_reference.json"));
  for (size_t i = 0; i < tokenizer_reference["cases"].size(); ++i) {
    const json& c = tokenizer_reference["cases"][i];
    // SentencePiece collapses and strips whitespace for this model (remove_extra_whitespaces);
    // tokenizer.json converted the way transformers converts does not (fixtures README).
    if (c["text"].get<std::string>().find("  ") != std::string::npos) continue;
    EXPECT_EQ(results["tokenizers_ids"][i], c["ids"]) << c["text"];
    EXPECT_EQ(results["tokenizers_decoded"][i], c["decoded"]) << c["text"];
  }
}

TEST(Llama2cStories, ConvertRefusesAMismatchedTokenizer) {
  MS_REQUIRE_SHARED();
  constexpr int32_t kVocab300[7] = {8, 12, 1, 2, 2, 300, 4};
  const fs::path dir = test::temp_dir("mismatch");
  const fs::path bin = write_checkpoint(dir / "v300.bin", kVocab300);
  const std::string message =
      error_of([&] { llama2c::convert(bin, stories() / "tok512.model", dir / "out"); });
  EXPECT_NE(message.find("tokenizer has 512 tokens but"), std::string::npos) << message;
  EXPECT_NE(message.find("vocab_size 300"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "out")) << "nothing is written on failure";
}

}  // namespace
}  // namespace modelswarm
