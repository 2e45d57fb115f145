// Chat templates for instruction-tuned base models: a prompt becomes one user turn followed by
// the opening of the assistant turn, so that continuations and generations are the model's reply.
// Named templates reproduce the Hugging Face chat templates of their model families for a single
// user message; any other string containing {prompt} is a template of its own.
#pragma once

#include <string>
#include <vector>

namespace modelswarm::utility {

class TokenEncoder;

class ChatTemplate {
 public:
  /// `value` is a name (llama-3, gemma, chatml, qwen, mistral) or a template with {prompt} and
  /// optionally {system} and {bos}; throws ConfigError naming `where` otherwise.
  static ChatTemplate parse(const std::string& value, const std::string& where);
  static std::vector<std::string> names();

  /// The formatted text; it carries BOS itself, so encode it without adding special tokens.
  /// `system` may be empty (no system turn).
  std::string apply(const std::string& prompt, const std::string& system, const TokenEncoder& encoder) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;          // "llama-3", or "custom"
  std::string text_;          // placeholders {bos} {system_block} {system} {prompt}
  std::string system_block_;  // what {system_block} becomes when a system prompt is given
};

}  // namespace modelswarm::utility
