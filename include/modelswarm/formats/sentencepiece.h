// SentencePiece .model files (protobuf ModelProto) and their conversion to a Hugging Face
// tokenizer.json equivalent to what transformers' converter produces for a Llama tokenizer.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

namespace modelswarm::sentencepiece {

/// tokenizer.json contents (BPE with merges derived from the piece scores, byte fallback,
/// the legacy Prepend/Replace normaliser, Llama decoder and BOS post-processor).
nlohmann::json to_tokenizer_json(const std::filesystem::path& model_file);

}  // namespace modelswarm::sentencepiece
