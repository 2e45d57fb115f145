#include "modelswarm/formats/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "formats/tokenizer/bpe.h"
#include "formats/tokenizer/pipeline.h"
#include "formats/tokenizer/text.h"
#include "modelswarm/common/error.h"
#include "modelswarm/formats/sentencepiece.h"

namespace modelswarm::tokenizer {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct AddedToken {
  int64_t id;
  std::string content;
  bool special, lstrip, rstrip, single_word;
  bool normalized;  // matched in the normalised text rather than the raw input
};

// A run of input text: either an added token (matched before the model) or text for the model.
struct Segment {
  size_t begin, end;
  const AddedToken* added;
};

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  MS_CHECK(in, path.string(), ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(cat(path.string(), ": invalid JSON: ", e.what()));
  }
}

}  // namespace

struct Tokenizer::Impl {
  std::string source;
  std::unique_ptr<BpeModel> model;
  std::vector<AddedToken> added;
  std::unordered_map<unsigned char, std::vector<const AddedToken*>> added_by_first_byte;  // longest first
  std::unordered_map<int64_t, const AddedToken*> added_by_id;
  std::vector<std::string> id_to_token;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  Decoder decoder;
  SpecialAffixes affixes;
  std::optional<int64_t> bos, pad;
  std::vector<int64_t> eos;

  Impl(const json& spec, std::string source_name);
  /// Splits at the added tokens whose `normalized` flag equals `normalized`.
  std::vector<Segment> split_added(std::string_view text, bool normalized) const;
  void encode_text(std::string_view text, bool at_start, std::vector<int64_t>* out) const;
};

Tokenizer::Impl::Impl(const json& spec, std::string source_name) : source(std::move(source_name)) {
  MS_CHECK(spec.is_object() && spec.contains("model"), source, ": no \"model\" object");
  try {
    const json& model_spec = spec["model"];
    const std::string type = model_spec.value("type", std::string("BPE"));
    MS_CHECK(type == "BPE", source, ": unsupported model type '", type, "' (only BPE is implemented)");
    model = std::make_unique<BpeModel>(model_spec, source);

    int64_t size = 0;
    for (const auto& [token, id] : model->vocab()) size = std::max(size, id + 1);
    for (const auto& entry : spec.value("added_tokens", json::array())) {
      added.push_back({entry.at("id").get<int64_t>(), entry.at("content").get<std::string>(),
                       entry.value("special", false), entry.value("lstrip", false), entry.value("rstrip", false),
                       entry.value("single_word", false), entry.value("normalized", !entry.value("special", false))});
      MS_CHECK(!added.back().content.empty() && added.back().id >= 0, source, ": invalid added token ", entry.dump());
      size = std::max(size, added.back().id + 1);
    }
    id_to_token.resize(static_cast<size_t>(size));
    for (const auto& [token, id] : model->vocab()) id_to_token[id] = token;
    for (const AddedToken& token : added) {
      id_to_token[token.id] = token.content;
      added_by_id[token.id] = &token;
      added_by_first_byte[static_cast<unsigned char>(token.content[0])].push_back(&token);
    }
    for (auto& [byte, candidates] : added_by_first_byte)
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const AddedToken* a, const AddedToken* b) { return a->content.size() > b->content.size(); });

    normalizer = make_normalizer(spec.value("normalizer", json()), source);
    pre_tokenizer = make_pre_tokenizer(spec.value("pre_tokenizer", json()), source);
    decoder = make_decoder(spec.value("decoder", json()), source);
    affixes = make_post_processor(spec.value("post_processor", json()), source, [&](const std::string& token) {
      auto id = std::find_if(added.begin(), added.end(), [&](const AddedToken& t) { return t.content == token; });
      if (id != added.end()) return id->id;
      auto it = model->vocab().find(token);
      MS_CHECK(it != model->vocab().end(), source, ": post_processor names unknown token '", token, "'");
      return it->second;
    });
  } catch (const json::exception& e) {
    throw Error(cat(source, ": malformed tokenizer: ", e.what()));
  }
}

// Leftmost-longest matches of the added tokens, honouring lstrip/rstrip/single_word.
std::vector<Segment> Tokenizer::Impl::split_added(std::string_view text, bool normalized) const {
  std::vector<Segment> segments;
  size_t text_start = 0;
  auto word_char_before = [&](size_t pos) {
    if (pos == 0) return false;
    size_t begin = pos - 1;
    while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
    return is_word_char(next_codepoint(text, &begin));
  };
  auto word_char_at = [&](size_t pos) { return pos < text.size() && is_word_char(next_codepoint(text, &pos)); };
  for (size_t pos = 0; pos < text.size() && !added_by_first_byte.empty(); ++pos) {
    auto bucket = added_by_first_byte.find(static_cast<unsigned char>(text[pos]));
    if (bucket == added_by_first_byte.end()) continue;
    for (const AddedToken* token : bucket->second) {
      if (token->normalized != normalized || text.compare(pos, token->content.size(), token->content) != 0) continue;
      size_t begin = pos, end = pos + token->content.size();
      if (token->single_word && (word_char_before(begin) || word_char_at(end))) continue;
      if (token->lstrip)
        while (begin > text_start) {
          size_t previous = begin - 1;
          while (previous > text_start && (static_cast<unsigned char>(text[previous]) & 0xC0) == 0x80) --previous;
          size_t cursor = previous;
          if (!is_whitespace(next_codepoint(text, &cursor))) break;
          begin = previous;
        }
      if (token->rstrip)
        for (size_t cursor = end; cursor < text.size() && is_whitespace(next_codepoint(text, &cursor));) end = cursor;
      if (begin > text_start) segments.push_back({text_start, begin, nullptr});
      segments.push_back({begin, end, token});
      text_start = end;
      pos = end - 1;
      break;
    }
  }
  if (text_start < text.size()) segments.push_back({text_start, text.size(), nullptr});
  return segments;
}

// Text between raw-matched added tokens: normalised, split again at the normalised added tokens,
// then pre-tokenized and run through the model.
void Tokenizer::Impl::encode_text(std::string_view text, bool at_start, std::vector<int64_t>* out) const {
  const std::string normalized = normalizer(std::string(text));
  for (const Segment& segment : split_added(normalized, /*normalized=*/true)) {
    if (segment.added) {
      out->push_back(segment.added->id);
      continue;
    }
    std::vector<Piece> pieces{{normalized.substr(segment.begin, segment.end - segment.begin),
                               at_start && segment.begin == 0}};
    pre_tokenizer(pieces);
    for (const Piece& piece : pieces) model->encode_word(piece.text, out);
  }
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_json(const json& spec, const std::string& source) {
  return Tokenizer(std::make_unique<Impl>(spec, source));
}

Tokenizer Tokenizer::from_file(const fs::path& tokenizer_json) {
  return from_json(read_json(tokenizer_json), tokenizer_json.string());
}

namespace {

// A token given as "text" or {"content": "text"} in tokenizer_config.json.
std::optional<std::string> token_text(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& value = config[key];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string())
    return value["content"].get<std::string>();
  return std::nullopt;
}

// An id given as an int or a list of ints (config.json, generation_config.json).
std::vector<int64_t> id_list(const json& config, const char* key) {
  if (!config.contains(key)) return {};
  const json& value = config[key];
  if (value.is_number_integer()) return {value.get<int64_t>()};
  std::vector<int64_t> ids;
  if (value.is_array())
    for (const auto& id : value)
      if (id.is_number_integer()) ids.push_back(id.get<int64_t>());
  return ids;
}

}  // namespace

Tokenizer Tokenizer::from_model_dir(const fs::path& directory) {
  const fs::path json_file = directory / "tokenizer.json";
  const fs::path sp_file = directory / "tokenizer.model";
  MS_CHECK(fs::exists(json_file) || fs::exists(sp_file), directory.string(),
           ": neither tokenizer.json nor tokenizer.model (SentencePiece) found");
  Tokenizer tokenizer = fs::exists(json_file)
                            ? from_file(json_file)
                            : from_json(sentencepiece::to_tokenizer_json(sp_file), sp_file.string());
  auto optional_json = [&](const char* name) {
    const fs::path path = directory / name;
    return fs::exists(path) ? read_json(path) : json::object();
  };
  const json tokenizer_config = optional_json("tokenizer_config.json");
  const json model_config = optional_json("config.json");
  const json generation_config = optional_json("generation_config.json");
  Impl& impl = *tokenizer.impl_;
  auto id_of = [&](const std::optional<std::string>& text) -> std::optional<int64_t> {
    return text ? tokenizer.token_to_id(*text) : std::nullopt;
  };

  impl.bos = id_of(token_text(tokenizer_config, "bos_token"));
  if (!impl.bos) {
    auto ids = id_list(model_config, "bos_token_id");
    if (!ids.empty()) impl.bos = ids[0];
  }
  // generation_config.json lists every id that ends generation; the others add theirs.
  auto add_eos = [&](int64_t id) {
    if (std::find(impl.eos.begin(), impl.eos.end(), id) == impl.eos.end()) impl.eos.push_back(id);
  };
  for (int64_t id : id_list(generation_config, "eos_token_id")) add_eos(id);
  for (int64_t id : id_list(model_config, "eos_token_id")) add_eos(id);
  if (auto id = id_of(token_text(tokenizer_config, "eos_token"))) add_eos(*id);
  impl.pad = id_of(token_text(tokenizer_config, "pad_token"));
  if (!impl.pad) {
    auto ids = id_list(model_config, "pad_token_id");
    if (!ids.empty()) impl.pad = ids[0];
  }
  return tokenizer;
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int64_t> ids;
  if (add_special_tokens) ids = impl_->affixes.prefix;
  for (const Segment& segment : impl_->split_added(text, /*normalized=*/false)) {
    if (segment.added)
      ids.push_back(segment.added->id);
    else
      impl_->encode_text(text.substr(segment.begin, segment.end - segment.begin), segment.begin == 0, &ids);
  }
  if (add_special_tokens) ids.insert(ids.end(), impl_->affixes.suffix.begin(), impl_->affixes.suffix.end());
  return ids;
}

std::string Tokenizer::decode_continuation(const std::vector<int64_t>& prompt,
                                           const std::vector<int64_t>& continuation) const {
  std::vector<int64_t> all = prompt;
  all.insert(all.end(), continuation.begin(), continuation.end());
  const std::string full = decode(all), prefix = decode(prompt);
  if (full.compare(0, prefix.size(), prefix) == 0) return full.substr(prefix.size());
  return decode(continuation);
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    MS_CHECK(id >= 0 && id < vocab_size(), impl_->source, ": cannot decode id ", id, " (vocabulary size ",
             vocab_size(), ")");
    auto added = impl_->added_by_id.find(id);
    if (skip_special_tokens && added != impl_->added_by_id.end() && added->second->special) continue;
    tokens.push_back(impl_->id_to_token[id]);
  }
  impl_->decoder(tokens);
  std::string text;
  for (const auto& token : tokens) text += token;
  return text;
}

int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_to_token.size()); }

std::optional<int64_t> Tokenizer::token_to_id(const std::string& token) const {
  for (const AddedToken& added : impl_->added)
    if (added.content == token) return added.id;
  auto it = impl_->model->vocab().find(token);
  if (it == impl_->model->vocab().end()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> Tokenizer::bos_id() const { return impl_->bos; }
std::vector<int64_t> Tokenizer::eos_ids() const { return impl_->eos; }
std::optional<int64_t> Tokenizer::pad_id() const { return impl_->pad; }

}  // namespace modelswarm::tokenizer
