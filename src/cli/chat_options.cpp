#include "cli/chat_options.h"

#include "modelswarm/common/error.h"

namespace modelswarm::cli {

void add_chat_options(CLI::App& command, ChatOptions& options, const std::string& what) {
  command.add_option("--chat-template", options.chat_template,
                     cat("Format ", what, " as one user turn (chatml, gemma, llama-3, mistral, qwen, or a template ",
                         "with {prompt}), as the utilities' chat_template does when scoring"));
  command.add_option("--system", options.system, "System prompt of the chat template's system turn");
}

std::optional<utility::ChatTemplate> parse_chat_options(const ChatOptions& options) {
  if (options.chat_template.empty()) {
    if (!options.system.empty())
      throw ConfigError("--system: needs --chat-template (a system turn is part of a chat template)");
    return std::nullopt;
  }
  return utility::ChatTemplate::parse(options.chat_template, "--chat-template");
}

}  // namespace modelswarm::cli
