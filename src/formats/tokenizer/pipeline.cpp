#include "formats/tokenizer/pipeline.h"

#include <memory>

#include "formats/tokenizer/text.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/regex.h"

namespace modelswarm::tokenizer {
namespace {

using nlohmann::json;

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string type_of(const json& spec, const std::string& source, const char* component) {
  MS_CHECK(spec.is_object() && spec.contains("type") && spec["type"].is_string(), source, ": ", component,
           " has no \"type\"");
  return spec["type"].get<std::string>();
}

[[noreturn]] void unsupported(const std::string& source, const char* component, const std::string& type) {
  throw Error(cat(source, ": unsupported ", component, " type '", type, "'"));
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  std::string out;
  size_t start = 0;
  for (size_t hit; (hit = text.find(from, start)) != std::string::npos; start = hit + from.size())
    out.append(text, start, hit - start).append(to);
  return out.append(text, start, std::string::npos);
}

// A "pattern" object: {"String": literal} or {"Regex": pcre}. Returns matches as byte ranges.
struct Pattern {
  std::string literal;
  std::shared_ptr<Regex> regex;

  Pattern(const json& spec, const std::string& source) {
    MS_CHECK(spec.is_object() && (spec.contains("String") || spec.contains("Regex")), source,
             ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
    if (spec.contains("Regex"))
      regex = std::make_shared<Regex>(spec["Regex"].get<std::string>(), source);
    else
      literal = spec["String"].get<std::string>();
  }

  std::vector<std::pair<size_t, size_t>> matches(const std::string& text) const {
    std::vector<std::pair<size_t, size_t>> out;
    if (regex) {
      for (const auto& m : regex->find_all(text))
        if (m.second > m.first) out.push_back(m);
    } else if (!literal.empty()) {
      for (size_t hit = text.find(literal); hit != std::string::npos; hit = text.find(literal, hit + literal.size()))
        out.emplace_back(hit, hit + literal.size());
    }
    return out;
  }

  std::string replace(const std::string& text, const std::string& content) const {
    if (!regex) return replace_all(text, literal, content);
    std::string out;
    size_t start = 0;
    for (const auto& [begin, end] : matches(text)) {
      out.append(text, start, begin - start).append(content);
      start = end;
    }
    return out.append(text, start, std::string::npos);
  }
};

// Splits every piece at the matches of `find`, keeping matches as the behaviour says
// (tokenizers' SplitDelimiterBehavior).
void split_pieces(std::vector<Piece>& pieces, const std::string& behavior, const std::string& source,
                  const std::function<std::vector<std::pair<size_t, size_t>>(const std::string&)>& find) {
  std::vector<Piece> out;
  for (const Piece& piece : pieces) {
    const std::string& text = piece.text;
    std::vector<std::string> parts;
    size_t start = 0;
    size_t previous_match_end = std::string::npos;
    auto emit = [&](size_t begin, size_t end) {
      if (end > begin) parts.push_back(text.substr(begin, end - begin));
    };
    for (const auto& [begin, end] : find(text)) {
      if (behavior == "Isolated") {
        emit(start, begin);
        emit(begin, end);
        start = end;
      } else if (behavior == "Removed") {
        emit(start, begin);
        start = end;
      } else if (behavior == "MergedWithPrevious") {
        emit(start, end);
        start = end;
      } else if (behavior == "MergedWithNext") {
        emit(start, begin);
        start = begin;  // the match opens the next part
      } else if (behavior == "Contiguous") {
        emit(start, begin);
        if (previous_match_end == begin && start == begin)
          parts.back() += text.substr(begin, end - begin);
        else
          emit(begin, end);
        start = end;
      } else {
        throw Error(cat(source, ": unsupported Split behavior '", behavior, "'"));
      }
      previous_match_end = end;
    }
    emit(start, text.size());
    for (size_t i = 0; i < parts.size(); ++i) out.push_back({std::move(parts[i]), piece.at_start && i == 0});
  }
  pieces = std::move(out);
}

std::string to_byte_level(const std::string& text) {
  std::string out;
  out.reserve(text.size() * 2);
  for (unsigned char c : text) out += byte_to_unicode(c);
  return out;
}

}  // namespace

Normalizer make_normalizer(const json& spec, const std::string& source) {
  if (spec.is_null()) return [](std::string text) { return text; };
  const std::string type = type_of(spec, source, "normalizer");
  if (type == "Sequence") {
    std::vector<Normalizer> stages;
    for (const auto& stage : spec.at("normalizers")) stages.push_back(make_normalizer(stage, source));
    return [stages](std::string text) {
      for (const auto& stage : stages) text = stage(std::move(text));
      return text;
    };
  }
  if (type == "NFC") return [](std::string text) { return nfc(text); };
  if (type == "Prepend") {
    const std::string prefix = spec.at("prepend").get<std::string>();
    return [prefix](std::string text) { return text.empty() ? text : prefix + text; };
  }
  if (type == "Replace") {
    const Pattern pattern(spec.at("pattern"), source);
    const std::string content = spec.at("content").get<std::string>();
    return [pattern, content](std::string text) { return pattern.replace(text, content); };
  }
  if (type == "Strip") {
    const bool left = spec.value("strip_left", false), right = spec.value("strip_right", false);
    return [left, right](std::string text) {
      size_t begin = 0, end = text.size();
      // Walk code points so that multi-byte whitespace (U+3000...) is stripped too.
      if (left)
        for (size_t pos = 0; pos < text.size();) {
          if (!is_whitespace(next_codepoint(text, &pos))) break;
          begin = pos;
        }
      if (right) {
        size_t last_keep = begin;
        for (size_t pos = begin; pos < text.size();)
          if (!is_whitespace(next_codepoint(text, &pos))) last_keep = pos;
        end = last_keep;
      }
      return text.substr(begin, end - begin);
    };
  }
  unsupported(source, "normalizer", type);
}

PreTokenizer make_pre_tokenizer(const json& spec, const std::string& source) {
  if (spec.is_null()) return [](std::vector<Piece>&) {};
  const std::string type = type_of(spec, source, "pre_tokenizer");
  if (type == "Sequence") {
    std::vector<PreTokenizer> stages;
    for (const auto& stage : spec.at("pretokenizers")) stages.push_back(make_pre_tokenizer(stage, source));
    return [stages](std::vector<Piece>& pieces) {
      for (const auto& stage : stages) stage(pieces);
    };
  }
  if (type == "ByteLevel") {
    const bool add_prefix_space = spec.value("add_prefix_space", false);
    std::shared_ptr<Regex> regex;
    if (spec.value("use_regex", true)) regex = std::make_shared<Regex>(kGpt2Pattern, source);
    return [add_prefix_space, regex, source](std::vector<Piece>& pieces) {
      if (add_prefix_space)
        for (Piece& piece : pieces)
          if (piece.text.empty() || piece.text[0] != ' ') piece.text = " " + piece.text;
      if (regex)
        split_pieces(pieces, "Isolated", source, [&](const std::string& text) { return regex->find_all(text); });
      for (Piece& piece : pieces) piece.text = to_byte_level(piece.text);
    };
  }
  if (type == "Split") {
    MS_CHECK(!spec.value("invert", false), source, ": Split pre_tokenizer with invert=true is not supported");
    const Pattern pattern(spec.at("pattern"), source);
    const std::string behavior = spec.at("behavior").get<std::string>();
    return [pattern, behavior, source](std::vector<Piece>& pieces) {
      split_pieces(pieces, behavior, source, [&](const std::string& text) { return pattern.matches(text); });
    };
  }
  if (type == "Digits") {
    const bool individual = spec.value("individual_digits", false);
    auto regex = std::make_shared<Regex>(individual ? "\\p{N}" : "\\p{N}+", source);
    return [regex, source](std::vector<Piece>& pieces) {
      split_pieces(pieces, "Isolated", source, [&](const std::string& text) { return regex->find_all(text); });
    };
  }
  if (type == "Metaspace") {
    const std::string replacement = spec.value("replacement", std::string("\xE2\x96\x81"));
    const std::string scheme = spec.value("prepend_scheme", std::string("always"));
    MS_CHECK(scheme == "always" || scheme == "first" || scheme == "never", source,
             ": Metaspace prepend_scheme '", scheme, "' is not always/first/never");
    const bool split = spec.value("split", true);
    const Pattern separator(json{{"String", replacement}}, source);
    return [replacement, scheme, split, separator, source](std::vector<Piece>& pieces) {
      for (Piece& piece : pieces) {
        piece.text = replace_all(std::move(piece.text), " ", replacement);
        const bool prepend = scheme == "always" || (scheme == "first" && piece.at_start);
        if (prepend && piece.text.compare(0, replacement.size(), replacement) != 0)
          piece.text = replacement + piece.text;
      }
      if (split)
        split_pieces(pieces, "MergedWithNext", source, [&](const std::string& text) { return separator.matches(text); });
    };
  }
  unsupported(source, "pre_tokenizer", type);
}

Decoder make_decoder(const json& spec, const std::string& source) {
  if (spec.is_null()) {
    return [](std::vector<std::string>& tokens) {
      std::string joined;
      for (size_t i = 0; i < tokens.size(); ++i) joined += (i ? " " : "") + tokens[i];
      tokens = {joined};
    };
  }
  const std::string type = type_of(spec, source, "decoder");
  if (type == "Sequence") {
    std::vector<Decoder> stages;
    for (const auto& stage : spec.at("decoders")) stages.push_back(make_decoder(stage, source));
    return [stages](std::vector<std::string>& tokens) {
      for (const auto& stage : stages) stage(tokens);
    };
  }
  if (type == "ByteLevel") {
    return [](std::vector<std::string>& tokens) {
      std::string bytes;
      for (const std::string& token : tokens) {
        std::string token_bytes;
        bool all_mapped = true;
        for (size_t pos = 0; pos < token.size() && all_mapped;) {
          const int b = unicode_to_byte(static_cast<char32_t>(std::max(0, next_codepoint(token, &pos))));
          all_mapped = b >= 0;
          token_bytes += static_cast<char>(b);
        }
        bytes += all_mapped ? token_bytes : token;
      }
      tokens = {utf8_lossy(bytes)};
    };
  }
  if (type == "Replace") {
    const Pattern pattern(spec.at("pattern"), source);
    const std::string content = spec.at("content").get<std::string>();
    return [pattern, content](std::vector<std::string>& tokens) {
      for (auto& token : tokens) token = pattern.replace(token, content);
    };
  }
  if (type == "ByteFallback") {
    return [](std::vector<std::string>& tokens) {
      std::vector<std::string> out;
      std::string pending;  // consecutive <0xNN> bytes
      size_t pending_count = 0;
      auto flush = [&] {
        if (pending_count == 0) return;
        if (is_valid_utf8(pending)) {
          out.push_back(pending);
        } else {
          for (size_t i = 0; i < pending_count; ++i) out.emplace_back("\xEF\xBF\xBD");
        }
        pending.clear();
        pending_count = 0;
      };
      for (auto& token : tokens) {
        if (token.size() == 6 && token.compare(0, 3, "<0x") == 0 && token[5] == '>' &&
            std::isxdigit(static_cast<unsigned char>(token[3])) && std::isxdigit(static_cast<unsigned char>(token[4]))) {
          pending += static_cast<char>(std::stoi(token.substr(3, 2), nullptr, 16));
          ++pending_count;
          continue;
        }
        flush();
        out.push_back(std::move(token));
      }
      flush();
      tokens = std::move(out);
    };
  }
  if (type == "Fuse") {
    return [](std::vector<std::string>& tokens) {
      std::string joined;
      for (const auto& token : tokens) joined += token;
      tokens = {joined};
    };
  }
  if (type == "Strip") {
    const std::string content = spec.at("content").get<std::string>();
    const size_t start = spec.value("start", 0), stop = spec.value("stop", 0);
    return [content, start, stop](std::vector<std::string>& tokens) {
      for (auto& token : tokens) {
        size_t begin = 0, end = token.size();
        for (size_t i = 0; i < start && token.compare(begin, content.size(), content) == 0 && begin < end; ++i)
          begin += content.size();
        for (size_t i = 0; i < stop && end >= begin + content.size() &&
                           token.compare(end - content.size(), content.size(), content) == 0;
             ++i)
          end -= content.size();
        token = token.substr(begin, end - begin);
      }
    };
  }
  if (type == "Metaspace") {
    const std::string replacement = spec.value("replacement", std::string("\xE2\x96\x81"));
    const bool strip_first = spec.value("prepend_scheme", std::string("always")) != "never";
    return [replacement, strip_first](std::vector<std::string>& tokens) {
      for (size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = replace_all(std::move(tokens[i]), replacement, i == 0 && strip_first ? "" : " ");
    };
  }
  unsupported(source, "decoder", type);
}

SpecialAffixes make_post_processor(const json& spec, const std::string& source,
                                   const std::function<int64_t(const std::string&)>& token_id) {
  SpecialAffixes affixes;
  if (spec.is_null()) return affixes;
  const std::string type = type_of(spec, source, "post_processor");
  if (type == "Sequence") {
    for (const auto& stage : spec.at("processors")) {
      SpecialAffixes inner = make_post_processor(stage, source, token_id);
      affixes.prefix.insert(affixes.prefix.end(), inner.prefix.begin(), inner.prefix.end());
      affixes.suffix.insert(affixes.suffix.begin(), inner.suffix.begin(), inner.suffix.end());
    }
    return affixes;
  }
  if (type == "ByteLevel") return affixes;  // only adjusts offsets
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    affixes.prefix.push_back(spec.at("cls").at(1).get<int64_t>());
    affixes.suffix.push_back(spec.at("sep").at(1).get<int64_t>());
    return affixes;
  }
  if (type == "TemplateProcessing") {
    const json& specials = spec.value("special_tokens", json::object());
    bool seen_sequence = false;
    for (const auto& item : spec.at("single")) {
      if (item.contains("Sequence")) {
        seen_sequence = true;
        continue;
      }
      MS_CHECK(item.contains("SpecialToken"), source, ": TemplateProcessing item ", item.dump(),
               " is neither Sequence nor SpecialToken");
      const std::string name = item["SpecialToken"].at("id").get<std::string>();
      std::vector<int64_t> ids;
      if (specials.contains(name))
        ids = specials[name].at("ids").get<std::vector<int64_t>>();
      else
        ids = {token_id(name)};
      auto& side = seen_sequence ? affixes.suffix : affixes.prefix;
      side.insert(side.end(), ids.begin(), ids.end());
    }
    return affixes;
  }
  unsupported(source, "post_processor", type);
}

}  // namespace modelswarm::tokenizer
