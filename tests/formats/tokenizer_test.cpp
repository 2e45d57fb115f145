// tokenizer.json loading against the tokenizers library: byte-level BPE tokenizers trained by the
// oracle (GPT-2, Llama-3 and Qwen2 pre-tokenizers) must give the library's ids and decodes on
// every string of the evaluation data sets and on unicode/whitespace/special-token edge cases.
#include "modelswarm/formats/tokenizer.h"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm::tokenizer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The oracle's trained tokenizers and expected outputs, generated once for all test processes.
fs::path oracle_dir() {
  static const fs::path dir = test::cached_oracle("tokenizer-bytelevel", "tokenizer_oracle.py", {"bytelevel"});
  return dir;
}

const json& oracle() {
  static const json expected = [] {
    if (oracle_dir().empty()) return json();
    std::ifstream in(oracle_dir() / "expected.json");
    return json::parse(in);
  }();
  return expected;
}

// A trained tokenizer file named by the oracle (relative to its output directory).
std::string oracle_file(const json& entry) { return (oracle_dir() / entry["file"].get<std::string>()).string(); }

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Compares ids and decodes of every text; reports the first few differences.
void expect_matches_library(const Tokenizer& tokenizer, const json& reference, const json& texts) {
  const auto& ids = reference["ids"];
  ASSERT_EQ(ids.size(), texts.size());
  int mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    const auto expected = ids[i].get<std::vector<int64_t>>();
    const auto got = tokenizer.encode(text);
    if (got != expected && ++mismatches <= 5)
      ADD_FAILURE() << "ids differ for text " << i << ": " << json(text).dump() << "\n  expected "
                    << json(expected).dump() << "\n  got      " << json(got).dump();
    if (got != expected) continue;
    EXPECT_EQ(tokenizer.decode(got, /*skip_special_tokens=*/false), reference["decoded"][i].get<std::string>())
        << "text " << i;
    EXPECT_EQ(tokenizer.decode(got, /*skip_special_tokens=*/true),
              reference["decoded_skip_special"][i].get<std::string>())
        << "text " << i;
  }
  EXPECT_EQ(mismatches, 0) << "of " << texts.size() << " texts";
}

class ByteLevelBpe : public ::testing::TestWithParam<std::string> {};

TEST_P(ByteLevelBpe, MatchesTokenizersLibraryOnDatasetsAndEdgeCases) {
  MS_REQUIRE_SHARED();
  const json& expected = oracle();
  ASSERT_FALSE(expected.is_null());
  const json& reference = expected["tokenizers"][GetParam()];
  const Tokenizer tokenizer = Tokenizer::from_file(oracle_file(reference));
  expect_matches_library(tokenizer, reference, expected["texts"]);
}

TEST_P(ByteLevelBpe, AddSpecialTokensFollowsThePostProcessor) {
  MS_REQUIRE_SHARED();
  const json& expected = oracle();
  ASSERT_FALSE(expected.is_null());
  const json& reference = expected["tokenizers"][GetParam()];
  const Tokenizer tokenizer = Tokenizer::from_file(oracle_file(reference));
  const json& texts = expected["texts"];
  const size_t first_edge_case = texts.size() - reference["ids_with_special"].size();
  for (size_t i = 0; i < reference["ids_with_special"].size(); ++i)
    EXPECT_EQ(tokenizer.encode(texts[first_edge_case + i].get<std::string>(), /*add_special_tokens=*/true),
              reference["ids_with_special"][i].get<std::vector<int64_t>>())
        << json(texts[first_edge_case + i]).dump();
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, ByteLevelBpe, ::testing::Values("gpt2", "llama3", "qwen2", "roberta"));

TEST(Tokenizer, MergesWrittenAsSpaceSeparatedStringsLoadTheSame) {
  MS_REQUIRE_SHARED();
  const json& expected = oracle();
  ASSERT_FALSE(expected.is_null());
  const json& reference = expected["tokenizers"]["gpt2"];
  std::ifstream in(oracle_file(reference));
  json spec = json::parse(in);
  for (auto& merge : spec["model"]["merges"]) merge = merge[0].get<std::string>() + " " + merge[1].get<std::string>();
  const Tokenizer tokenizer = Tokenizer::from_json(spec, "gpt2 with string merges");
  expect_matches_library(tokenizer, reference, expected["texts"]);
}

TEST(Tokenizer, EncodesTheDatasetsQuickly) {
  MS_REQUIRE_SHARED();
  const json& expected = oracle();
  ASSERT_FALSE(expected.is_null());
  const Tokenizer tokenizer = Tokenizer::from_file(oracle_file(expected["tokenizers"]["llama3"]));
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const auto& text : expected["texts"]) bytes += texts.emplace_back(text.get<std::string>()).size();
  const auto start = std::chrono::steady_clock::now();
  size_t tokens = 0;
  for (const auto& text : texts) tokens += tokenizer.encode(text).size();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ measured ] " << texts.size() << " texts, " << bytes << " bytes, " << tokens << " tokens in "
            << seconds << " s (cold cache)\n";
  // ~11k strings from five data sets (~5 of the 1000-line sets): well under a second each.
  EXPECT_LT(seconds, 2.0);
}

TEST(Tokenizer, ModelDirectoryGivesBosEosAndPadFromItsConfigs) {
  MS_REQUIRE_SHARED();
  const json& expected = oracle();
  ASSERT_FALSE(expected.is_null());
  const fs::path dir = test::temp_dir("model");
  fs::copy_file(oracle_file(expected["tokenizers"]["qwen2"]), dir / "tokenizer.json");
  write_file(dir / "tokenizer_config.json",
             R"({"bos_token": {"content": "<|im_start|>", "lstrip": false}, "eos_token": "<|im_end|>",
                 "pad_token": "<|endoftext|>"})");
  write_file(dir / "config.json", R"({"bos_token_id": 7, "eos_token_id": [2, 1]})");
  write_file(dir / "generation_config.json", R"({"eos_token_id": 0})");
  const Tokenizer tokenizer = Tokenizer::from_model_dir(dir);
  EXPECT_EQ(tokenizer.bos_id(), 1);  // tokenizer_config.json's token wins over config.json's id
  EXPECT_EQ(tokenizer.eos_ids(), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(tokenizer.pad_id(), 0);
  EXPECT_EQ(tokenizer.vocab_size(), 1502);  // 1500 trained + [MASK] + xyzzy
  EXPECT_EQ(tokenizer.token_to_id("[MASK]"), 1500);
  EXPECT_EQ(tokenizer.token_to_id("not a token"), std::nullopt);

  fs::remove(dir / "tokenizer_config.json");
  const Tokenizer from_ids = Tokenizer::from_model_dir(dir);
  EXPECT_EQ(from_ids.bos_id(), 7);
  EXPECT_EQ(from_ids.pad_id(), std::nullopt);
}

// Each bad file must give one Error naming the file and the problem.
void expect_error(const std::string& contents, const std::string& needle) {
  const fs::path path = test::temp_dir("bad") / "tokenizer.json";
  write_file(path, contents);
  try {
    Tokenizer::from_file(path);
    ADD_FAILURE() << "no error for " << contents;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Tokenizer, MalformedFilesGiveOneClearError) {
  const std::string vocab = R"("vocab": {"a": 0, "b": 1, "ab": 2})";
  expect_error("{\"model\": ", "invalid JSON");
  expect_error(R"({"model": {"type": "WordPiece", )" + vocab + "}}", "unsupported model type 'WordPiece'");
  expect_error(R"({"model": {"type": "BPE", )" + vocab + R"(, "merges": [["a", "c"]]}})", "'c'");
  expect_error(R"({"model": {"type": "BPE", )" + vocab + R"(, "merges": ["a b c"]}})", "not of the form");
  expect_error(R"({"normalizer": {"type": "BertNormalizer"}, "model": {"type": "BPE", )" + vocab + "}}",
               "unsupported normalizer type 'BertNormalizer'");
  expect_error(R"({"pre_tokenizer": {"type": "Whitespace"}, "model": {"type": "BPE", )" + vocab + "}}",
               "unsupported pre_tokenizer type 'Whitespace'");
  expect_error(R"({"decoder": {"type": "WordPiece"}, "model": {"type": "BPE", )" + vocab + "}}",
               "unsupported decoder type 'WordPiece'");
  expect_error(R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"},
                  "model": {"type": "BPE", )" + vocab + "}}",
               "invalid regular expression");
}

TEST(Tokenizer, MergesAndUnknownCharacters) {
  const json spec = json::parse(R"({
    "added_tokens": [{"id": 4, "content": "<s>", "special": true}],
    "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true,
              "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3}, "merges": ["a b"]}})");
  const Tokenizer tokenizer = Tokenizer::from_json(spec, "inline");
  EXPECT_EQ(tokenizer.encode("abxyab<s>a"), (std::vector<int64_t>{3, 0, 3, 4, 1}));  // xy fused into one unk
  EXPECT_EQ(tokenizer.decode({3, 4, 1}), "ab a");  // no decoder: tokens joined by spaces; <s> skipped
  EXPECT_THROW(tokenizer.decode({9}), Error);
}

TEST(Tokenizer, AddedTokenStripsUnicodeWhitespaceAroundIt) {
  const json spec = json::parse(R"({
    "added_tokens": [{"id": 3, "content": "<m>", "special": false, "lstrip": true, "rstrip": true}],
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, " ": 2}, "merges": []}})");
  const Tokenizer tokenizer = Tokenizer::from_json(spec, "inline");
  // U+3000 IDEOGRAPHIC SPACE before and a plain space after are taken into the token.
  EXPECT_EQ(tokenizer.encode("a\u3000<m> b"), (std::vector<int64_t>{0, 3, 1}));
  EXPECT_EQ(tokenizer.encode("a <m>b <m>"), (std::vector<int64_t>{0, 3, 1, 3}));
}

TEST(Tokenizer, ModelDirectoryWithoutTokenizerIsAnError) {
  const fs::path dir = test::temp_dir("empty_model");
  try {
    Tokenizer::from_model_dir(dir);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace modelswarm::tokenizer
