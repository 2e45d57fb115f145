// --chat-template and --system, for the commands that take a prompt as a chat model's user turn
// (generate, finetune): the same flags, the same check, the same meaning as the utilities'
// chat_template and system_prompt.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "modelswarm/utility/chat_template.h"

namespace modelswarm::cli {

struct ChatOptions {
  std::string chat_template;  // empty: prompts as given
  std::string system;
};

/// Adds both flags to `command`; `what` is what becomes a user turn ("the prompt", "each prompt").
void add_chat_options(CLI::App& command, ChatOptions& options, const std::string& what);

/// The template, or none without --chat-template; --system without it is a ConfigError.
std::optional<utility::ChatTemplate> parse_chat_options(const ChatOptions& options);

}  // namespace modelswarm::cli
