#include "modelswarm/formats/sentencepiece.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "formats/tokenizer/text.h"
#include "modelswarm/common/error.h"

namespace modelswarm::sentencepiece {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Protobuf wire format: every read is bounds-checked and a bad byte throws, naming the file.

class WireReader {
 public:
  WireReader(std::string_view bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  bool done() const { return pos_ >= bytes_.size(); }

  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      MS_CHECK(pos_ < bytes_.size(), source_, ": truncated SentencePiece model (varint at byte ", pos_, ")");
      const auto byte = static_cast<unsigned char>(bytes_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return value;
    }
    throw Error(cat(source_, ": malformed SentencePiece model (varint longer than 10 bytes)"));
  }

  std::string_view bytes(size_t n) {
    MS_CHECK(n <= bytes_.size() - pos_, source_, ": truncated SentencePiece model (", n, " bytes wanted at byte ",
             pos_, ", ", bytes_.size() - pos_, " left)");
    std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  /// Reads a field key; returns {field number, wire type}.
  std::pair<uint32_t, uint32_t> key() {
    const uint64_t key = varint();
    MS_CHECK((key >> 3) > 0 && (key >> 3) < (1u << 29), source_, ": malformed SentencePiece model (field key ", key, ")");
    return {static_cast<uint32_t>(key >> 3), static_cast<uint32_t>(key & 7)};
  }

  std::string_view length_delimited() { return bytes(varint()); }

  float fixed32_float() {
    std::string_view raw = bytes(4);
    uint32_t bits = 0;
    for (int i = 3; i >= 0; --i) bits = (bits << 8) | static_cast<unsigned char>(raw[i]);  // little endian
    float value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }

  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: varint(); break;
      case 1: bytes(8); break;
      case 2: length_delimited(); break;
      case 5: bytes(4); break;
      default: throw Error(cat(source_, ": malformed SentencePiece model (wire type ", wire_type, ")"));
    }
  }

  void expect(uint32_t wire_type, uint32_t wanted, uint32_t field) {
    MS_CHECK(wire_type == wanted, source_, ": malformed SentencePiece model (field ", field, " has wire type ",
             wire_type, ", expected ", wanted, ")");
  }

 private:
  std::string_view bytes_;
  const std::string& source_;
  size_t pos_ = 0;
};

// sentencepiece_model.proto, the fields the conversion needs (defaults as in the .proto).
struct ModelProto {
  std::vector<Piece> pieces;
  int model_type = 1;  // 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
  bool byte_fallback = false;
  int unk_id = 0, bos_id = 1, eos_id = 2;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
};

Piece parse_piece(std::string_view bytes, const std::string& source) {
  Piece piece;
  WireReader in(bytes, source);
  while (!in.done()) {
    auto [field, wire] = in.key();
    if (field == 1) {
      in.expect(wire, 2, field);
      piece.text = std::string(in.length_delimited());
    } else if (field == 2) {
      in.expect(wire, 5, field);
      piece.score = in.fixed32_float();
    } else if (field == 3) {
      in.expect(wire, 0, field);
      piece.type = static_cast<int>(in.varint());
    } else {
      in.skip(wire);
    }
  }
  return piece;
}

void parse_trainer_spec(std::string_view bytes, const std::string& source, ModelProto* model) {
  WireReader in(bytes, source);
  while (!in.done()) {
    auto [field, wire] = in.key();
    auto int_field = [&, wire = wire, field = field] {
      in.expect(wire, 0, field);
      return static_cast<int>(static_cast<int32_t>(in.varint()));
    };
    switch (field) {
      case 3: model->model_type = int_field(); break;
      case 35: model->byte_fallback = int_field() != 0; break;
      case 40: model->unk_id = int_field(); break;
      case 41: model->bos_id = int_field(); break;
      case 42: model->eos_id = int_field(); break;
      default: in.skip(wire);
    }
  }
}

void parse_normalizer_spec(std::string_view bytes, const std::string& source, ModelProto* model) {
  WireReader in(bytes, source);
  while (!in.done()) {
    auto [field, wire] = in.key();
    if (field == 3 || field == 4) {
      in.expect(wire, 0, field);
      (field == 3 ? model->add_dummy_prefix : model->remove_extra_whitespaces) = in.varint() != 0;
    } else {
      in.skip(wire);
    }
  }
}

ModelProto read_model(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  MS_CHECK(file, path.string(), ": cannot open SentencePiece model");
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const std::string source = path.string();
  ModelProto model;
  WireReader in(bytes, source);
  while (!in.done()) {
    auto [field, wire] = in.key();
    if (field >= 1 && field <= 3) {
      in.expect(wire, 2, field);
      const std::string_view message = in.length_delimited();
      if (field == 1) model.pieces.push_back(parse_piece(message, source));
      if (field == 2) parse_trainer_spec(message, source, &model);
      if (field == 3) parse_normalizer_spec(message, source, &model);
    } else {
      in.skip(wire);
    }
  }
  MS_CHECK(!model.pieces.empty(), source, ": SentencePiece model has no pieces");
  return model;
}

size_t codepoint_count(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

// What transformers' LlamaConverter writes: vocabulary in piece order, merges from
// tokenization_utils_base.generate_merges (every split of a piece into two pieces, ranked by the
// merged piece's score, higher first; ties by longer left, then longer right part, then piece
// order and the ids of the parts), the legacy Prepend/Replace normaliser and BOS added.
json to_tokenizer_json(const std::vector<Piece>& pieces, const Options& options) {
  const std::string& source = options.source;
  const auto n = static_cast<int>(pieces.size());
  MS_CHECK(n > 0, source, ": no pieces");
  for (int id = 0; id < n; ++id)
    MS_CHECK(tokenizer::is_valid_utf8(pieces[id].text), source, ": piece ", id, " is not valid UTF-8");
  for (const auto& special : {options.unk_id, options.bos_id, options.eos_id})
    MS_CHECK(!special || (*special >= 0 && *special < n), source, ": special piece id ", *special, " outside the ", n,
             " pieces");
  MS_CHECK(!options.add_bos || options.bos_id, source, ": BOS is to be added but there is no BOS piece");
  MS_CHECK(!options.add_eos || options.eos_id, source, ": EOS is to be added but there is no EOS piece");

  std::unordered_map<std::string, int64_t> vocab;
  for (int id = 0; id < n; ++id) vocab[pieces[id].text] = id;  // a Python dict: the last id wins

  struct Merge {
    float score;
    size_t left_length, right_length;
    std::string left, right;
  };
  std::vector<Merge> merges;
  for (int id = 0; id < n; ++id) {
    const std::string& piece = pieces[id].text;
    if (vocab.at(piece) != id) continue;  // duplicate piece text
    std::vector<Merge> local_merges;
    for (size_t split = 1; split < piece.size(); ++split) {
      if ((static_cast<unsigned char>(piece[split]) & 0xC0) == 0x80) continue;  // inside a character
      auto left = vocab.find(piece.substr(0, split)), right = vocab.find(piece.substr(split));
      if (left == vocab.end() || right == vocab.end()) continue;
      local_merges.push_back({pieces[id].score, codepoint_count(left->first), codepoint_count(right->first),
                              left->first, right->first});
    }
    std::stable_sort(local_merges.begin(), local_merges.end(), [&](const Merge& a, const Merge& b) {
      return std::make_pair(vocab.at(a.left), vocab.at(a.right)) < std::make_pair(vocab.at(b.left), vocab.at(b.right));
    });
    merges.insert(merges.end(), local_merges.begin(), local_merges.end());
  }
  // Python's sorted(key=(score, len(left), len(right)), reverse=True) is stable on equal keys.
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    return std::tie(a.score, a.left_length, a.right_length) > std::tie(b.score, b.left_length, b.right_length);
  });

  json vocab_json = json::object();
  for (int id = 0; id < n; ++id) vocab_json[pieces[id].text] = id;
  json merges_json = json::array();
  for (const Merge& m : merges) merges_json.push_back({m.left, m.right});

  const std::string kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's whitespace
  json added_tokens = json::array();
  for (int id = 0; id < n; ++id) {
    const int type = pieces[id].type;
    if (type == kUnknown || type == kControl || type == kUserDefined)
      added_tokens.push_back({{"id", id}, {"content", pieces[id].text}, {"single_word", false},
                              {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                              {"special", type != kUserDefined}});
  }

  json normalizers = json::array();
  if (options.add_dummy_prefix) normalizers.push_back({{"type", "Prepend"}, {"prepend", kSpace}});
  normalizers.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}});

  json decoders = json::array({{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                               {{"type", "ByteFallback"}}, {{"type", "Fuse"}}});
  if (options.add_dummy_prefix)
    decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});

  // transformers' LlamaTokenizer.update_post_processor: "[bos] $A [eos]", the pair repeating both.
  auto special = [](const std::string& id, int type_id) { return json{{"SpecialToken", {{"id", id}, {"type_id", type_id}}}}; };
  auto sequence = [](const std::string& id, int type_id) { return json{{"Sequence", {{"id", id}, {"type_id", type_id}}}}; };
  auto template_for = [&](const std::string& sequence_id, int type_id) {
    json items = json::array();
    if (options.add_bos) items.push_back(special(pieces[*options.bos_id].text, type_id));
    items.push_back(sequence(sequence_id, type_id));
    if (options.add_eos) items.push_back(special(pieces[*options.eos_id].text, type_id));
    return items;
  };
  json single = template_for("A", 0), pair = single;
  for (const json& item : template_for("B", 1)) pair.push_back(item);
  json special_tokens = json::object();
  for (const auto& [add, id] :
       {std::make_pair(options.add_bos, options.bos_id), std::make_pair(options.add_eos, options.eos_id)})
    if (add) {
      const std::string& text = pieces[*id].text;
      special_tokens[text] = {{"id", text}, {"ids", {*id}}, {"tokens", {text}}};
    }
  const json post_processor = {
      {"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", special_tokens}};

  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added_tokens},
          {"normalizer", {{"type", "Sequence"}, {"normalizers", normalizers}}},
          {"pre_tokenizer", nullptr},
          {"post_processor", post_processor},
          {"decoder", {{"type", "Sequence"}, {"decoders", decoders}}},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", options.unk_id ? json(pieces[*options.unk_id].text) : json(nullptr)},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", true},
            {"byte_fallback", options.byte_fallback},
            {"ignore_merges", false},
            {"vocab", vocab_json},
            {"merges", merges_json}}}};
}

json to_tokenizer_json(const std::filesystem::path& model_file) {
  const ModelProto model = read_model(model_file);
  const std::string source = model_file.string();
  MS_CHECK(model.model_type == 2, source, ": SentencePiece model type ", model.model_type,
           " is not BPE (Unigram models are not supported)");
  Options options;
  options.source = source;
  options.unk_id = model.unk_id;
  options.bos_id = model.bos_id;
  options.eos_id = model.eos_id >= 0 ? std::optional<int>(model.eos_id) : std::nullopt;  // -1: no EOS piece
  options.add_dummy_prefix = model.add_dummy_prefix;
  options.byte_fallback = model.byte_fallback;
  return to_tokenizer_json(model.pieces, options);
}

}  // namespace modelswarm::sentencepiece
