// Supervised fine-tuning data: JSONL records with a prompt and a completion, tokenised as the
// multiple-choice and likelihood utilities tokenise (context, continuation) pairs, so that a
// model trained here is scored on the very token boundaries it was trained on.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/train/trainer.h"
#include "modelswarm/utility/chat_template.h"

namespace modelswarm::train {

struct SftFields {
  std::string prompt = "prompt";
  std::string completion = "completion";
};

/// How a record's prompt becomes the model's text: as it is, or as one user turn of a chat
/// template (as the utilities' chat_template and system_prompt format it for scoring).
struct SftPromptFormat {
  std::optional<utility::ChatTemplate> chat;
  std::string system;
};

/// BOS + prompt + completion + EOS (when the tokenizer has one), with the loss on the completion
/// and EOS. Without special tokens (a chat-formatted prompt writes its own BOS), no BOS is added.
/// Throws Error naming `where` when the completion adds no tokens.
TokenizedExample tokenize_pair(const tokenizer::Tokenizer& tok, const std::string& prompt,
                               const std::string& completion, const std::string& where,
                               bool add_special_tokens = true);

/// Reads a JSONL (or JSON array) file of records with string fields `fields.prompt` and
/// `fields.completion`. Errors name the file and line: a missing or non-string field, a record
/// longer than `max_tokens`, an empty file.
std::vector<TokenizedExample> read_sft_data(const std::filesystem::path& path, const tokenizer::Tokenizer& tok,
                                            const SftFields& fields, int64_t max_tokens,
                                            const SftPromptFormat& format = {});

}  // namespace modelswarm::train
