#include "utility/common.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "modelswarm/common/error.h"
#include "modelswarm/common/json_reader.h"
#include "modelswarm/common/regex.h"

namespace modelswarm::utility {

std::filesystem::path config_path(const UtilityContext& context, const std::string& path) {
  const std::filesystem::path given(path);
  return given.is_absolute() ? given : (context.base_dir / given).lexically_normal();
}

void check_template_fields(const std::string& templ, const std::string& where, const TaskData& data,
                           const std::vector<std::string>& names) {
  const auto& first = data.dev.empty() ? data.test : data.dev;
  if (first.empty()) return;
  for (const auto& name : template_fields(templ, where)) {
    if (std::find(names.begin(), names.end(), name) != names.end() || first.front().fields.contains(name)) continue;
    std::string known;
    for (const auto& n : names) known += "{" + n + "}, ";
    throw ConfigError(cat(where, ": names {", name, "}, which is neither ", known, "nor a key of ",
                          first.front().location));
  }
}

PromptFormat PromptFormat::read(JsonReader& config) {
  PromptFormat f;
  if (config.has("chat_template"))
    f.chat = ChatTemplate::parse(config.get<std::string>("chat_template"), config.where("chat_template"));
  f.system = config.get_or<std::string>("system_prompt", "");
  if (!f.system.empty() && !f.chat)
    config.fail("system_prompt", "needs a chat_template to place it in");
  return f;
}

std::string PromptFormat::apply(const std::string& prompt, const TokenEncoder& encoder) const {
  return chat ? chat->apply(prompt, system, encoder) : prompt;
}

int64_t particle_count(const at::Tensor& particles) {
  if (!particles.defined()) return 1;
  TORCH_CHECK(particles.dim() == 2, "particles must be (P, D), got ", particles.sizes());
  return particles.size(0);
}

namespace {

std::vector<int64_t> start_tokens(const TokenEncoder& encoder, const std::string& where) {
  if (auto bos = encoder.bos_id()) return {*bos};
  const auto eos = encoder.eos_ids();
  if (!eos.empty()) return {eos.front()};
  throw Error(cat(where, ": an empty context needs a BOS or EOS token to score from, and the tokenizer has neither"));
}

}  // namespace

model::ScoringRequest pair_request(const TokenEncoder& encoder, std::string context, std::string continuation,
                                   bool add_special_tokens, const std::string& where) {
  model::ScoringRequest request;
  const size_t kept = context.find_last_not_of(" \t\n\r");
  if (kept == std::string::npos) {
    continuation = context + continuation;
    context.clear();
  } else if (kept + 1 < context.size()) {
    continuation = context.substr(kept + 1) + continuation;
    context.resize(kept + 1);
  }
  if (context.empty()) {
    request.context = add_special_tokens ? encoder.encode("", true) : std::vector<int64_t>{};
    if (request.context.empty()) request.context = start_tokens(encoder, where);
    request.continuation = encoder.encode(continuation, false);
  } else {
    const auto whole = encoder.encode(context + continuation, add_special_tokens);
    request.context = encoder.encode(context, add_special_tokens);
    if (whole.size() > request.context.size() &&
        std::equal(request.context.begin(), request.context.end(), whole.begin())) {
      request.continuation.assign(whole.begin() + static_cast<int64_t>(request.context.size()), whole.end());
    } else {
      // The boundary merged into one token: score the continuation as encoded alone.
      request.continuation = encoder.encode(continuation, false);
    }
  }
  if (request.continuation.empty()) throw Error(cat(where, ": the continuation is empty after tokenisation"));
  return request;
}

model::GenerationRequest generation_request(const TokenEncoder& encoder, const std::string& prompt,
                                            bool add_special_tokens) {
  model::GenerationRequest request;
  request.prompt = encoder.encode(prompt, add_special_tokens);
  return request;
}

model::GenerationOptions read_generation_options(JsonReader& config, int64_t default_max_new_tokens,
                                                 const std::vector<std::string>& default_stop) {
  model::GenerationOptions o;
  o.max_new_tokens = config.in_range<int64_t>(
      "max_new_tokens", config.get_or<int64_t>("max_new_tokens", default_max_new_tokens), 1, 1 << 20);
  o.stop = config.get_or<std::vector<std::string>>("stop", default_stop);
  for (const auto& s : o.stop)
    if (s.empty()) config.fail("stop", "stop strings must not be empty");
  o.temperature = config.in_range<double>("temperature", config.get_or<double>("temperature", 0.0), 0.0, 100.0);
  o.top_p = config.in_range<double>("top_p", config.get_or<double>("top_p", 1.0), 1e-9, 1.0);
  o.seed = config.get_or<uint64_t>("seed", 0);
  return o;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\n\r");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\n\r");
  return s.substr(first, last - first + 1);
}

std::optional<double> last_number(const std::string& text) {
  static const Regex number(R"(-?\d[\d,]*(?:\.\d+)?|-?\.\d+)", "number pattern");
  const auto matches = number.find_all(text);
  if (matches.empty()) return std::nullopt;
  std::string digits;
  for (size_t i = matches.back().first; i < matches.back().second; ++i)
    if (text[i] != ',') digits += text[i];
  return std::strtod(digits.c_str(), nullptr);
}

std::vector<double> row_means(const std::vector<std::vector<double>>& scores) {
  std::vector<double> means;
  for (const auto& row : scores) {
    double sum = 0;
    for (double v : row) sum += v;
    means.push_back(row.empty() ? 0.0 : sum / static_cast<double>(row.size()));
  }
  return means;
}

}  // namespace modelswarm::utility
