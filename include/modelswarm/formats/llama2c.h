// llama2.c checkpoints (karpathy/llama2.c, legacy version 0) and their conversion to a Hugging
// Face Llama directory that transformers and our engine load as is.
//
// File layout: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
// a negative vocab_size means the classifier is not shared with the embedding), then fp32
// arrays: token_embedding (V,D); rms_att (L,D); wq (L,D,D); wk (L,Dkv,D); wv (L,Dkv,D);
// wo (L,D,D); rms_ffn (L,D); w1 (L,F,D); w2 (L,D,F); w3 (L,F,D); rms_final (D);
// freq_cis_real and freq_cis_imag (seq_len, hd/2) each, unused; wcls (V,D) when not shared.
// Dkv = D·n_kv_heads/n_heads, hd = D/n_heads. Data is little-endian, like the files.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace modelswarm::llama2c {

/// The validated header of a checkpoint.
struct Header {
  int64_t dim = 0;         // D
  int64_t hidden_dim = 0;  // F
  int64_t n_layers = 0;    // L
  int64_t n_heads = 0;     // H
  int64_t n_kv_heads = 0;  // K
  int64_t vocab_size = 0;  // V (the absolute value of the stored one)
  int64_t seq_len = 0;
  bool shared_classifier = true;  // stored vocab_size > 0: lm_head is the embedding

  int64_t head_size() const { return dim / n_heads; }
  int64_t kv_dim() const { return dim * n_kv_heads / n_heads; }
  /// 28 header bytes + 4 bytes per float the header implies (freq_cis and wcls included).
  int64_t file_size() const;
};

/// Checks the 7 stored header values (positive dims, heads dividing D, K dividing H, even head
/// size, sizes that fit in memory); throws Error starting with `source` naming the bad value.
Header parse_header(const int32_t (&values)[7], const std::string& source);

/// Reads and validates the header of `model_bin`, including that the file size is exactly the
/// size the header implies (a truncated file or a lying header is an Error naming the file).
Header read_header(const std::filesystem::path& model_bin);

/// All weights under their Hugging Face Llama names and layout (fp32, CPU): q_proj/k_proj rows
/// permuted from llama2.c's interleaved RoPE pairs to HF's rotate-half halves; lm_head.weight
/// only when the classifier is not shared. `header` receives the header when given.
std::map<std::string, at::Tensor> read_weights(const std::filesystem::path& model_bin, Header* header = nullptr);

/// Rows of a q or k projection (heads·hd, in) reordered from interleaved RoPE pairs
/// (2i, 2i+1) to rotate-half (i, i + hd/2) per head, as transformers' Llama converter does.
at::Tensor interleaved_to_rotate_half(const at::Tensor& weight, int64_t heads);

/// config.json of the equivalent LlamaForCausalLM (fp32, eps 1e-5, rope_theta 10000, BOS 1, EOS 2).
nlohmann::json hf_config(const Header& header);

/// Writes `out_dir` atomically: config.json, model.safetensors, tokenizer.json (from the
/// SentencePiece `tokenizer_model`), tokenizer_config.json and generation_config.json.
/// The tokenizer's vocabulary must have the checkpoint's vocab_size.
void convert(const std::filesystem::path& model_bin, const std::filesystem::path& tokenizer_model,
             const std::filesystem::path& out_dir);

}  // namespace modelswarm::llama2c
