// Supervised fine-tuning data: JSONL records with a prompt and a completion, tokenised as the
// multiple-choice and likelihood utilities tokenise (context, continuation) pairs, so that a
// model trained here is scored on the very token boundaries it was trained on.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/train/trainer.h"

namespace modelswarm::train {

struct SftFields {
  std::string prompt = "prompt";
  std::string completion = "completion";
};

/// BOS + prompt + completion + EOS (when the tokenizer has one), with the loss on the completion
/// and EOS. Throws Error naming `where` when the completion adds no tokens.
TokenizedExample tokenize_pair(const tokenizer::Tokenizer& tok, const std::string& prompt,
                               const std::string& completion, const std::string& where);

/// Reads a JSONL (or JSON array) file of records with string fields `fields.prompt` and
/// `fields.completion`. Errors name the file and line: a missing or non-string field, a record
/// longer than `max_tokens`, an empty file.
std::vector<TokenizedExample> read_sft_data(const std::filesystem::path& path, const tokenizer::Tokenizer& tok,
                                            const SftFields& fields, int64_t max_tokens);

}  // namespace modelswarm::train
