// SentencePiece .model reading and conversion to tokenizer.json, checked against SentencePiece's
// own encodings of the stories260K tokenizer and against transformers' Llama conversion run by
// the tokenizers library.
#include "modelswarm/formats/sentencepiece.h"

#include <fstream>
#include <iterator>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/tokenizer.h"
#include "test_utils.h"

namespace modelswarm::sentencepiece {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using tokenizer::Tokenizer;

fs::path tok512() { return test::shared_dir() / "fixtures" / "stories260K" / "tok512.model"; }

// Our conversion of tok512.model and the oracle's outputs for it, generated once per process.
struct SpmOracle {
  json ours;
  json expected;
};
const SpmOracle& oracle() {
  static const SpmOracle result = [] {
    SpmOracle r;
    const fs::path dir = test::temp_dir("spm_oracle");
    r.ours = to_tokenizer_json(tok512());
    std::ofstream(dir / "ours.json") << r.ours.dump();
    if (test::run_python("tokenizer_oracle.py", {"spm", tok512().string(), (dir / "ours.json").string(),
                                                 (dir / "expected.json").string()})) {
      std::ifstream in(dir / "expected.json");
      r.expected = json::parse(in);
    }
    return r;
  }();
  return result;
}

TEST(SentencePiece, Stories260KMatchesSentencePieceReference) {
  MS_REQUIRE_SHARED();
  const Tokenizer tokenizer = Tokenizer::from_json(to_tokenizer_json(tok512()), "tok512");
  std::ifstream in(test::shared_dir() / "fixtures" / "stories260K" / "tokenizer_reference.json");
  const json reference = json::parse(in);
  int compared = 0;
  for (const auto& c : reference["cases"]) {
    const std::string text = c["text"].get<std::string>();
    // SentencePiece collapses and strips spaces here (remove_extra_whitespaces); a converted
    // tokenizer.json does not, as the fixtures README says.
    if (text.find("  ") != std::string::npos || (!text.empty() && (text.front() == ' ' || text.back() == ' ')))
      continue;
    const auto ids = tokenizer.encode(text);
    EXPECT_EQ(ids, c["ids"].get<std::vector<int64_t>>()) << json(text).dump();
    EXPECT_EQ(tokenizer.decode(ids), c["decoded"].get<std::string>()) << json(text).dump();
    ++compared;
  }
  EXPECT_EQ(compared, 8);
}

TEST(SentencePiece, ModelDirectoryWithOnlyTokenizerModelAddsBos) {
  MS_REQUIRE_SHARED();
  const fs::path dir = test::temp_dir("llama2c");
  fs::copy_file(tok512(), dir / "tokenizer.model");
  const Tokenizer tokenizer = Tokenizer::from_model_dir(dir);
  EXPECT_EQ(tokenizer.vocab_size(), 512);
  std::ifstream in(test::shared_dir() / "fixtures" / "stories260K" / "forward_reference.json");
  const json forward = json::parse(in);
  for (const auto& c : forward["cases"])
    EXPECT_EQ(tokenizer.encode(c["prompt"].get<std::string>(), /*add_special_tokens=*/true),
              c["ids"].get<std::vector<int64_t>>());
}

TEST(SentencePiece, ConversionEqualsTransformersLlamaConversion) {
  MS_REQUIRE_SHARED();
  const SpmOracle& o = oracle();
  ASSERT_FALSE(o.expected.is_null());
  const json& reference = o.expected["reference_json"];
  EXPECT_EQ(o.ours["model"]["vocab"], reference["model"]["vocab"]);
  EXPECT_EQ(o.ours["model"]["merges"], reference["model"]["merges"]);
  for (const char* key : {"normalizer", "pre_tokenizer", "decoder", "post_processor", "added_tokens"})
    EXPECT_EQ(o.ours[key], reference[key]) << key;
  // The tokenizers library runs our file exactly as the reference conversion.
  EXPECT_EQ(o.expected["ours"], o.expected["reference"]);
}

TEST(SentencePiece, OurTokenizerMatchesLibraryOnConvertedModel) {
  MS_REQUIRE_SHARED();
  const SpmOracle& o = oracle();
  ASSERT_FALSE(o.expected.is_null());
  const Tokenizer tokenizer = Tokenizer::from_json(o.ours, "tok512");
  const json& texts = o.expected["texts"];
  int mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    const auto ids = tokenizer.encode(text);
    if (ids != o.expected["reference"][i].get<std::vector<int64_t>>() && ++mismatches <= 5)
      ADD_FAILURE() << "ids differ for " << json(text).dump() << ": " << json(ids).dump() << " vs "
                    << o.expected["reference"][i].dump();
    EXPECT_EQ(tokenizer.encode(text, /*add_special_tokens=*/true),
              o.expected["reference_with_bos"][i].get<std::vector<int64_t>>());
    EXPECT_EQ(tokenizer.decode(ids), o.expected["reference_decoded"][i].get<std::string>()) << json(text).dump();
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(SentencePiece, MetaspacePreTokenizerSchemesMatchLibrary) {
  MS_REQUIRE_SHARED();
  const SpmOracle& o = oracle();
  ASSERT_FALSE(o.expected.is_null());
  const json& texts = o.expected["texts"];
  ASSERT_EQ(o.expected["metaspace"].size(), 4u);
  for (const auto& [name, variant] : o.expected["metaspace"].items()) {
    const Tokenizer tokenizer = Tokenizer::from_json(variant["json"], name);
    int mismatches = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const auto ids = tokenizer.encode(texts[i].get<std::string>());
      if (ids != variant["ids"][i].get<std::vector<int64_t>>()) {
        if (++mismatches <= 3)
          ADD_FAILURE() << name << ": ids differ for " << texts[i].dump() << ": " << json(ids).dump() << " vs "
                        << variant["ids"][i].dump();
        continue;
      }
      EXPECT_EQ(tokenizer.decode(ids), variant["decoded"][i].get<std::string>()) << name << " " << texts[i].dump();
    }
    EXPECT_EQ(mismatches, 0) << name;
  }
}

TEST(SentencePiece, TruncatedOrCorruptModelsGiveErrors) {
  MS_REQUIRE_SHARED();
  std::ifstream in(tok512(), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const fs::path path = test::temp_dir("bad") / "tokenizer.model";
  auto convert = [&](const std::string& contents) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
    return to_tokenizer_json(path);
  };
  // Every prefix either converts (it ends on a field boundary) or throws Error: never a crash.
  int errors = 0;
  for (size_t length = 0; length < bytes.size(); length += 7) {
    try {
      convert(bytes.substr(0, length));
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
  try {
    convert(bytes.substr(0, bytes.size() / 2));
    ADD_FAILURE() << "half a model converted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(convert(std::string("\x0f\x01", 2)), Error);                   // wire type 7
  EXPECT_THROW(convert(std::string("\x0a\xff\xff\xff\xff\x0f", 6)), Error);  // length past the end
  EXPECT_THROW(convert(""), Error);                                           // no pieces
  EXPECT_THROW(to_tokenizer_json(path.parent_path() / "missing.model"), Error);
}

}  // namespace
}  // namespace modelswarm::sentencepiece
