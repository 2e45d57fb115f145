#include "modelswarm/utility/chat_template.h"

#include <map>

#include "modelswarm/common/error.h"
#include "modelswarm/utility/dataset.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::utility {

namespace {

struct Named {
  std::string text;
  std::string system_block;
};

// Single-turn renderings of the families' tokenizer_config.json chat_template with
// add_generation_prompt=True. Gemma and Mistral have no system role: their templates put the
// system text at the top of the first user message.
const std::map<std::string, Named>& named_templates() {
  static const std::map<std::string, Named> templates = {
      {"llama-3",
       {"<|begin_of_text|>{system_block}<|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>"}},
      {"gemma", {"<bos><start_of_turn>user\n{system_block}{prompt}<end_of_turn>\n<start_of_turn>model\n", "{system}\n\n"}},
      {"chatml",
       {"{system_block}<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|>system\n{system}<|im_end|>\n"}},
      {"mistral", {"<s>[INST] {system_block}{prompt} [/INST]", "{system}\n\n"}},
  };
  return templates;
}

// Replaces the placeholders of `text` in one pass, so braces inside the values stay as they are.
std::string substitute(const std::string& text, const std::map<std::string, std::string>& values) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{') {
      const size_t close = text.find('}', i);
      if (close != std::string::npos) {
        auto it = values.find(text.substr(i + 1, close - i - 1));
        if (it != values.end()) {
          out += it->second;
          i = close;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace

std::vector<std::string> ChatTemplate::names() { return {"chatml", "gemma", "llama-3", "mistral", "qwen"}; }

ChatTemplate ChatTemplate::parse(const std::string& value, const std::string& where) {
  ChatTemplate t;
  const std::string key = value == "qwen" ? "chatml" : value;  // Qwen2 / Qwen2.5 use ChatML
  auto it = named_templates().find(key);
  if (it != named_templates().end()) {
    t.name_ = value;
    t.text_ = it->second.text;
    t.system_block_ = it->second.system_block;
    return t;
  }
  if (value.find("{prompt}") == std::string::npos) {
    std::string known;
    for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError(cat(where, ": \"", value, "\" is neither a known chat template (", known,
                          ") nor a template containing {prompt}"));
  }
  t.name_ = "custom";
  t.text_ = value;
  t.system_block_ = "{system}";
  return t;
}

std::string ChatTemplate::apply(const std::string& prompt, const std::string& system,
                                const TokenEncoder& encoder) const {
  std::string bos;
  if (text_.find("{bos}") != std::string::npos) {
    if (auto id = encoder.bos_id()) bos = encoder.token_text(*id);
  }
  const std::string block = system.empty() ? "" : substitute(system_block_, {{"system", system}});
  return substitute(text_, {{"bos", bos}, {"system_block", block}, {"system", system}, {"prompt", prompt}});
}

}  // namespace modelswarm::utility
