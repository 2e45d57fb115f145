// SentencePiece .model files (protobuf ModelProto) and their conversion to a Hugging Face
// tokenizer.json equivalent to what transformers' converter produces for a Llama tokenizer.
// The conversion itself works on the pieces and a few flags, so a vocabulary that arrives by
// another route (a GGUF's tokenizer.ggml.* metadata) converts the same way.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace modelswarm::sentencepiece {

/// sentencepiece_model.proto's ModelProto.SentencePiece.Type (GGUF token_type uses the same numbers).
enum PieceType : int { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct Piece {
  std::string text;
  float score = 0;
  int type = kNormal;
};

/// What the conversion needs besides the pieces.
struct Options {
  std::string source;                    // names the vocabulary in errors
  std::optional<int> unk_id = 0;         // model.unk_token (null when absent)
  std::optional<int> bos_id = 1, eos_id = 2;
  bool add_bos = true;                   // the post-processor's template: [BOS] $A [EOS]
  bool add_eos = false;
  bool add_dummy_prefix = true;          // normalizer_spec.add_dummy_prefix: Prepend "▁"
  bool byte_fallback = false;            // trainer_spec.byte_fallback: <0xNN> pieces for unknown bytes
};

/// tokenizer.json contents (BPE with merges derived from the piece scores, byte fallback,
/// the legacy Prepend/Replace normaliser, Llama decoder and BOS/EOS post-processor). Every
/// piece must be valid UTF-8 and every id in `options` a piece; Error naming options.source.
nlohmann::json to_tokenizer_json(const std::vector<Piece>& pieces, const Options& options);

/// The same for a .model file: it must be a BPE model; its trainer/normaliser specs give the
/// options (BOS added, no EOS, as transformers' LlamaTokenizer does by default).
nlohmann::json to_tokenizer_json(const std::filesystem::path& model_file);

}  // namespace modelswarm::sentencepiece
