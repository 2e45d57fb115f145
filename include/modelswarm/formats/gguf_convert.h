// A GGUF model file to a Hugging Face model directory (config.json, model.safetensors,
// tokenizer.json, tokenizer_config.json with the chat template, generation_config.json) that
// the engine, transformers and PEFT load as they load any Hub model.
// Architectures: llama (Mistral files say llama too), qwen2, qwen3, gemma. llama.cpp's own
// conversion changed some tensors, and this undoes it: llama Q/K rows are permuted back from
// interleaved RoPE pairs to rotate-half, and gemma norm weights lose the 1 added to them.
#pragma once

#include <ATen/core/ScalarType.h>
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "modelswarm/formats/gguf.h"

namespace modelswarm::gguf {

/// config.json of the equivalent *ForCausalLM, from the `<arch>.*` metadata and the tensors
/// (vocab size, tied embeddings); an Error naming the file and key for an unsupported
/// architecture or a missing/invalid key.
nlohmann::json hf_config(const File& file);

/// Every weight under its Hugging Face name, dequantised and in `dtype`.
std::map<std::string, at::Tensor> hf_weights(const File& file, const nlohmann::json& config,
                                             at::ScalarType dtype);

/// The tokenizer files a GGUF's `tokenizer.ggml.*` metadata describes.
struct TokenizerFiles {
  nlohmann::json tokenizer;          // tokenizer.json
  nlohmann::json tokenizer_config;   // tokenizer_config.json (chat_template, special tokens, add_bos)
  nlohmann::json special_token_ids;  // {"bos_token_id": .., "eos_token_id": .., "pad_token_id": ..} (null if absent)
};
/// tokenizer model `gpt2` (byte-level BPE, the split regex named by tokenizer.ggml.pre) or
/// `llama` (SentencePiece BPE from tokens and scores); an Error naming the file and key otherwise.
TokenizerFiles hf_tokenizer(const File& file);

/// Converts `gguf_file` into `out_dir`, written atomically (a temporary sibling, then renamed).
void convert(const std::filesystem::path& gguf_file, const std::filesystem::path& out_dir,
             at::ScalarType dtype);

}  // namespace modelswarm::gguf
