// Tokenizers from GGUF metadata (gguf::hf_tokenizer): SmolLM2's byte-level BPE against the
// tokenizers library running llama.cpp's pre-tokenizer for it and against transformers' own GGUF
// tokenizer; the stories260K SentencePiece model, written into a GGUF by gguf-py, against
// SentencePiece; the files in transformers; and small GGUFs written here for the pre-tokenizer
// table, the flags and every malformed key.
#include <algorithm>
#include <fstream>

#include "formats/smollm2_fixture.h"
#include "modelswarm/common/error.h"
#include "modelswarm/formats/gguf_convert.h"
#include "modelswarm/formats/sentencepiece.h"
#include "modelswarm/formats/tokenizer.h"
#include "test_utils.h"

namespace modelswarm::gguf {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using tokenizer::Tokenizer;

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

void write_json(const fs::path& path, const json& value) { std::ofstream(path) << value.dump(); }

// ---------------------------------------------------------------------------------------------
// SmolLM2-135M-Instruct: gpt2 tokenizer, pre "smollm", 17 control tokens, a chat template.

fs::path smollm2_oracle() {
  return test::cached_oracle("gguf-tokenizer-smollm2", "gguf_tokenizer_oracle.py",
                             {"gpt2", test::smollm2_gguf().string()});
}

TEST(GgufTokenizer, SmolLM2EncodesAsLlamaCppPreTokenizerAndTransformers) {
  MS_REQUIRE_SMOLLM2();
  MS_REQUIRE_SHARED();  // 300 of the texts are ../shared's data sets
  const fs::path dir = smollm2_oracle();
  ASSERT_FALSE(dir.empty());
  const json expected = read_json(dir / "expected.json");
  const Tokenizer tokenizer = Tokenizer::from_json(hf_tokenizer(File::open(test::smollm2_gguf())).tokenizer, "smollm2");
  const json& texts = expected["texts"];
  const json& reference = expected["reference"];
  const json& transformers = expected["transformers"];
  int compared = 0, transformers_differs = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    const auto ids = tokenizer.encode(text);
    EXPECT_EQ(json(ids), reference["ids"][i]) << json(text).dump();
    EXPECT_EQ(tokenizer.decode(ids, /*skip_special_tokens=*/false), reference["decoded"][i]) << json(text).dump();
    EXPECT_EQ(tokenizer.decode(ids), reference["decoded_skip_special"][i]) << json(text).dump();
    EXPECT_EQ(tokenizer.encode(text, /*add_special_tokens=*/true), ids);  // add_bos_token is false
    // transformers' GGUF loader has no split for "smollm" and runs GPT-2's regex alone, so a
    // digit after a space stays with it when a merge exists (" ①" is one token there, two in
    // llama.cpp and in SmolLM2's own tokenizer.json, Digits(individual_digits) first).
    if (transformers["ids"][i] != reference["ids"][i]) {
      ++transformers_differs;
      EXPECT_EQ(text, "½ cup, x² + y³, ① ② ③, Ⅻ, ٣٤٥ and ४२");
    } else {
      EXPECT_EQ(json(ids), transformers["ids"][i]) << json(text).dump();
      EXPECT_EQ(tokenizer.decode(ids, false), transformers["decoded"][i]) << json(text).dump();
    }
    ++compared;
  }
  EXPECT_EQ(transformers_differs, 1);
  EXPECT_GT(compared, 300);
}

TEST(GgufTokenizer, SmolLM2ConfigNamesTheSpecialTokensAndChatTemplate) {
  MS_REQUIRE_SMOLLM2();
  const File file = File::open(test::smollm2_gguf());
  const TokenizerFiles files = hf_tokenizer(file);
  const json& config = files.tokenizer_config;
  EXPECT_EQ(config["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(config["bos_token"], "<|im_start|>");
  EXPECT_EQ(config["eos_token"], "<|im_end|>");
  EXPECT_EQ(config["pad_token"], "<|im_end|>");
  EXPECT_EQ(config["unk_token"], "<|endoftext|>");
  EXPECT_EQ(config["add_bos_token"], false);
  EXPECT_EQ(config["add_eos_token"], false);
  EXPECT_EQ(config["clean_up_tokenization_spaces"], false);
  EXPECT_EQ(config["model_max_length"], 8192);
  EXPECT_EQ(config["chat_template"], file.require("tokenizer.chat_template"));
  EXPECT_EQ(config["added_tokens_decoder"].size(), 17u);
  EXPECT_EQ(config["added_tokens_decoder"]["2"]["content"], "<|im_end|>");
  EXPECT_EQ(config["added_tokens_decoder"]["2"]["special"], true);
  EXPECT_EQ(files.special_token_ids, json({{"bos_token_id", 1}, {"eos_token_id", 2}, {"pad_token_id", 2}}));
  // SmolLM2's own tokenizer.json: Digits then ByteLevel, no BOS added.
  EXPECT_EQ(files.tokenizer["pre_tokenizer"]["pretokenizers"][0]["type"], "Digits");
  EXPECT_EQ(files.tokenizer["post_processor"]["type"], "ByteLevel");
  EXPECT_EQ(files.tokenizer["model"]["vocab"].size(), 49152u);
  EXPECT_EQ(files.tokenizer["model"]["merges"].size(), file.require("tokenizer.ggml.merges").size());
}

// Per-text results `got` and `want` (arrays as long as `texts`): the number that differ, the
// first few reported with their text.
int differences(const json& got, const json& want, const json& texts, const std::string& what) {
  EXPECT_EQ(got.size(), texts.size()) << what;
  EXPECT_EQ(want.size(), texts.size()) << what;
  int count = 0;
  for (size_t i = 0; i < std::min({got.size(), want.size(), texts.size()}); ++i)
    if (got[i] != want[i] && ++count <= 3)
      ADD_FAILURE() << what << " differs for " << texts[i].dump() << ": " << got[i].dump() << " vs " << want[i].dump();
  return count;
}

// The files as the model directory `convert gguf` writes (config.json says llama), loaded by
// transformers' AutoTokenizer: the oracle's "transformers" output for `texts`.
json load_in_transformers(const TokenizerFiles& files, const json& texts, const std::string& name) {
  const fs::path dir = test::temp_dir(name);
  write_json(dir / "tokenizer.json", files.tokenizer);
  write_json(dir / "tokenizer_config.json", files.tokenizer_config);
  write_json(dir / "config.json", {{"model_type", "llama"}});
  write_json(dir / "texts.json", texts);
  if (!test::run_python("gguf_tokenizer_oracle.py",
                        {"transformers", dir.string(), (dir / "texts.json").string(), (dir / "loaded.json").string()}))
    return nullptr;
  return read_json(dir / "loaded.json");
}

// transformers runs the files as written (ids, chat prompt), and our own from_model_dir finds
// BOS, EOS and pad through tokenizer_config.json.
TEST(GgufTokenizer, SmolLM2FilesLoadInTransformersAndFromModelDir) {
  MS_REQUIRE_SMOLLM2();
  const fs::path oracle = smollm2_oracle();
  ASSERT_FALSE(oracle.empty());
  const json expected = read_json(oracle / "expected.json");
  const TokenizerFiles files = hf_tokenizer(File::open(test::smollm2_gguf()));
  const json& texts = expected["texts"];
  const json loaded = load_in_transformers(files, texts, "gguf_tokenizer_smollm2");
  ASSERT_FALSE(loaded.is_null());
  EXPECT_EQ(differences(loaded["ids"], expected["reference"]["ids"], texts, "ids"), 0);
  EXPECT_EQ(differences(loaded["ids_with_special"], expected["reference"]["ids"], texts, "ids with special"), 0);
  EXPECT_EQ(differences(loaded["decoded"], expected["reference"]["decoded"], texts, "decoded"), 0);
  EXPECT_EQ(loaded["chat"], expected["transformers"]["chat"]);
  EXPECT_EQ(loaded["special_tokens"]["bos_token"], "<|im_start|>");
  EXPECT_EQ(loaded["special_tokens"]["eos_token"], "<|im_end|>");
  EXPECT_EQ(loaded["special_tokens"]["pad_token"], "<|im_end|>");

  const fs::path dir = test::temp_dir("gguf_tokenizer_smollm2_dir");
  write_json(dir / "tokenizer.json", files.tokenizer);
  write_json(dir / "tokenizer_config.json", files.tokenizer_config);
  const Tokenizer tokenizer = Tokenizer::from_model_dir(dir);
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_ids(), std::vector<int64_t>{2});
  EXPECT_EQ(tokenizer.pad_id(), 2);
}

// ---------------------------------------------------------------------------------------------
// stories260K's SentencePiece model as a `llama` GGUF.

fs::path tok512() { return test::shared_dir() / "fixtures" / "stories260K" / "tok512.model"; }

fs::path stories_oracle() {
  return test::cached_oracle("gguf-tokenizer-stories260k", "gguf_tokenizer_oracle.py", {"llama", tok512().string()});
}

TEST(GgufTokenizer, SentencePieceGgufIsTheModelFilesConversion) {
  MS_REQUIRE_SHARED();
  const fs::path dir = stories_oracle();
  ASSERT_FALSE(dir.empty());
  const TokenizerFiles files = hf_tokenizer(File::open(dir / "tokenizer.gguf"));
  // Same pieces, scores and flags: the same tokenizer.json as from tok512.model itself.
  EXPECT_EQ(files.tokenizer, sentencepiece::to_tokenizer_json(tok512()));
  EXPECT_EQ(files.tokenizer_config["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(files.tokenizer_config["bos_token"], "<s>");
  EXPECT_EQ(files.tokenizer_config["eos_token"], "</s>");
  EXPECT_EQ(files.tokenizer_config["unk_token"], "<unk>");
  EXPECT_EQ(files.tokenizer_config["pad_token"], nullptr);
  EXPECT_EQ(files.tokenizer_config["add_bos_token"], true);
  EXPECT_EQ(files.tokenizer_config["model_max_length"], 512);
  EXPECT_FALSE(files.tokenizer_config.contains("chat_template"));
  EXPECT_EQ(files.special_token_ids, json({{"bos_token_id", 1}, {"eos_token_id", 2}, {"pad_token_id", nullptr}}));
}

TEST(GgufTokenizer, SentencePieceGgufEncodesAsSentencePieceWithBos) {
  MS_REQUIRE_SHARED();
  const fs::path dir = stories_oracle();
  ASSERT_FALSE(dir.empty());
  const json expected = read_json(dir / "expected.json");
  const Tokenizer tokenizer =
      Tokenizer::from_json(hf_tokenizer(File::open(dir / "tokenizer.gguf")).tokenizer, "tok512");
  int compared = 0;
  for (size_t i = 0; i < expected["texts"].size(); ++i) {
    // SentencePiece collapses and strips spaces (remove_extra_whitespaces); tokenizer.json
    // keeps them, as transformers' conversion does: those texts legitimately differ.
    if (expected["sp_collapses_whitespace"][i].get<bool>()) continue;
    const std::string text = expected["texts"][i].get<std::string>();
    const auto ids = tokenizer.encode(text, /*add_special_tokens=*/true);
    EXPECT_EQ(json(ids), expected["sentencepiece"][i]) << json(text).dump();
    EXPECT_EQ(tokenizer.decode(ids), expected["decoded"][i]) << json(text).dump();
    ++compared;
  }
  EXPECT_GT(compared, 300);
}

TEST(GgufTokenizer, SentencePieceGgufFilesLoadInTransformers) {
  MS_REQUIRE_SHARED();
  const fs::path dir = stories_oracle();
  ASSERT_FALSE(dir.empty());
  const json expected = read_json(dir / "expected.json");
  const TokenizerFiles files = hf_tokenizer(File::open(dir / "tokenizer.gguf"));
  const json loaded = load_in_transformers(files, expected["texts"], "gguf_tokenizer_tok512");
  ASSERT_FALSE(loaded.is_null());
  json texts = json::array(), got = json::array(), want = json::array();
  for (size_t i = 0; i < expected["texts"].size(); ++i) {
    if (expected["sp_collapses_whitespace"][i].get<bool>()) continue;  // see above
    texts.push_back(expected["texts"][i]);
    got.push_back(loaded["ids_with_special"][i]);
    want.push_back(expected["sentencepiece"][i]);
  }
  EXPECT_EQ(differences(got, want, texts, "ids with BOS"), 0);
  EXPECT_EQ(loaded["special_tokens"]["bos_token"], "<s>");
}

// ---------------------------------------------------------------------------------------------
// Small GGUFs written here (no tensors): one key changed at a time.

void put(std::string* out, const void* data, size_t n) { out->append(static_cast<const char*>(data), n); }
template <typename T>
void put(std::string* out, T value) {
  put(out, &value, sizeof(value));
}
void put_string(std::string* out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out->append(s);
}

// GGUF value types: JSON unsigned -> u32, signed -> i32, float -> f32, bool, string, array.
uint32_t gguf_type(const json& v) {
  if (v.is_string()) return 8;
  if (v.is_boolean()) return 7;
  if (v.is_number_unsigned()) return 4;
  if (v.is_number_integer()) return 5;
  if (v.is_number_float()) return 6;
  return 9;
}

void put_value(std::string* out, const json& v) {
  switch (gguf_type(v)) {
    case 8: put_string(out, v.get<std::string>()); break;
    case 7: put<uint8_t>(out, v.get<bool>()); break;
    case 4: put<uint32_t>(out, v.get<uint32_t>()); break;
    case 5: put<int32_t>(out, v.get<int32_t>()); break;
    case 6: put<float>(out, v.get<float>()); break;
    default:
      put<uint32_t>(out, v.empty() ? 8 : gguf_type(v[0]));
      put<uint64_t>(out, v.size());
      for (const json& e : v) put_value(out, e);
  }
}

fs::path write_gguf(const json& metadata) {
  static int count = 0;
  std::string bytes = "GGUF";
  put<uint32_t>(&bytes, 3);
  put<uint64_t>(&bytes, 0);  // tensors
  put<uint64_t>(&bytes, metadata.size());
  for (const auto& [key, value] : metadata.items()) {
    put_string(&bytes, key);
    put<uint32_t>(&bytes, gguf_type(value));
    put_value(&bytes, value);
  }
  const fs::path path = test::temp_dir("gguf_tokenizer_small") / cat("file", count++, ".gguf");
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A byte-level vocabulary: "hello" by merges, "low" only as a whole token (no merge makes it).
json toy_gpt2(const std::string& pre = "gpt2") {
  return {{"general.architecture", "llama"},
          {"llama.context_length", 64u},
          {"tokenizer.ggml.model", "gpt2"},
          {"tokenizer.ggml.pre", pre},
          {"tokenizer.ggml.tokens", json::array({"<s>", "</s>", "<think>", "h", "e", "l", "o", "w", "\xC4\xA0", "he",
                                                 "ll", "hell", "hello", "\xC4\xA0w", "low", "1", "2", "\xC4\xA0" "1"})},
          {"tokenizer.ggml.token_type", json::array({3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})},
          {"tokenizer.ggml.merges", json::array({"h e", "l l", "he ll", "hell o", "\xC4\xA0 w", "\xC4\xA0 1"})},
          {"tokenizer.ggml.bos_token_id", 0u},
          {"tokenizer.ggml.eos_token_id", 1u}};
}

std::vector<int64_t> encode(const json& metadata, const std::string& text, bool add_special_tokens = false) {
  return Tokenizer::from_json(hf_tokenizer(File::open(write_gguf(metadata))).tokenizer, "toy")
      .encode(text, add_special_tokens);
}

TEST(GgufTokenizer, PreTokenizerFollowsLlamaCpp) {
  using Ids = std::vector<int64_t>;
  // GPT-2's regex: " 1" is one word and one token; "low" has no merge, so it is its letters.
  EXPECT_EQ(encode(toy_gpt2("gpt2"), "low hello 1"), (Ids{5, 6, 7, 8, 12, 17}));
  // smollm: the digit is split off first, so the space before it stands alone.
  EXPECT_EQ(encode(toy_gpt2("smollm"), "low hello 1"), (Ids{5, 6, 7, 8, 12, 8, 15}));
  // llama-bpe: Llama 3's split (digits apart from the space), and ignore_merges: a word that
  // is a token is that token.
  EXPECT_EQ(encode(toy_gpt2("llama-bpe"), "low hello 1"), (Ids{14, 8, 12, 8, 15}));
  EXPECT_EQ(encode(toy_gpt2("qwen2"), "low hello 1"), (Ids{5, 6, 7, 8, 12, 8, 15}));
  // dbrx: Llama 3's split without ignore_merges.
  EXPECT_EQ(encode(toy_gpt2("dbrx"), "low hello"), (Ids{5, 6, 7, 8, 12}));

  const TokenizerFiles llama3 = hf_tokenizer(File::open(write_gguf(toy_gpt2("llama3"))));
  EXPECT_EQ(llama3.tokenizer["pre_tokenizer"]["pretokenizers"][0]["type"], "Split");
  EXPECT_EQ(llama3.tokenizer["model"]["ignore_merges"], true);

  json no_pre = toy_gpt2();
  no_pre.erase("tokenizer.ggml.pre");  // older files: llama.cpp's and transformers' default
  EXPECT_EQ(encode(no_pre, "hello 1"), (Ids{12, 17}));

  const fs::path unknown = write_gguf(toy_gpt2("no-such-pre"));
  const std::string message = test::message_of<Error>([&] { hf_tokenizer(File::open(unknown)); });
  EXPECT_NE(message.find(unknown.string()), std::string::npos) << message;
  EXPECT_NE(message.find("tokenizer.ggml.pre"), std::string::npos) << message;
  EXPECT_NE(message.find("no-such-pre"), std::string::npos) << message;
  EXPECT_NE(message.find("smollm"), std::string::npos) << message;
}

TEST(GgufTokenizer, BosAndEosAreAddedAsTheFileSays) {
  using Ids = std::vector<int64_t>;
  EXPECT_EQ(encode(toy_gpt2("gpt2"), "hello", true), (Ids{12}));    // gpt2 adds nothing by default
  EXPECT_EQ(encode(toy_gpt2("llama3"), "hello", true), (Ids{0, 12}));  // llama.cpp's default for llama3
  json flags = toy_gpt2("llama3");
  flags["tokenizer.ggml.add_bos_token"] = false;
  flags["tokenizer.ggml.add_eos_token"] = true;
  EXPECT_EQ(encode(flags, "hello", true), (Ids{12, 1}));
  flags["tokenizer.ggml.add_bos_token"] = true;
  EXPECT_EQ(encode(flags, "hello", true), (Ids{0, 12, 1}));
  EXPECT_EQ(encode(flags, "hello", false), (Ids{12}));
  const TokenizerFiles files = hf_tokenizer(File::open(write_gguf(flags)));
  EXPECT_EQ(files.tokenizer_config["add_bos_token"], true);
  EXPECT_EQ(files.tokenizer_config["add_eos_token"], true);
  EXPECT_EQ(files.special_token_ids, json({{"bos_token_id", 0}, {"eos_token_id", 1}, {"pad_token_id", nullptr}}));
  EXPECT_EQ(files.tokenizer_config["model_max_length"], 64);
}

TEST(GgufTokenizer, ControlTokensAreSpecialUserDefinedOnesPlain) {
  const Tokenizer tokenizer = Tokenizer::from_json(hf_tokenizer(File::open(write_gguf(toy_gpt2()))).tokenizer, "toy");
  const auto ids = tokenizer.encode("<s>hello<think>hello</s>");
  EXPECT_EQ(ids, (std::vector<int64_t>{0, 12, 2, 12, 1}));
  EXPECT_EQ(tokenizer.decode(ids), "hello<think>hello");
  EXPECT_EQ(tokenizer.decode(ids, /*skip_special_tokens=*/false), "<s>hello<think>hello</s>");
}

TEST(GgufTokenizer, SentencePieceFlagsFromTheFile) {
  // A tiny SentencePiece vocabulary: "▁a" and "a", byte pieces for '\n' only.
  const std::string sp = "\xE2\x96\x81";
  json meta = {{"tokenizer.ggml.model", "llama"},
               {"tokenizer.ggml.tokens", json::array({"<unk>", "<s>", "</s>", "<0x0A>", sp, "a", sp + "a"})},
               {"tokenizer.ggml.scores", json::array({0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -0.5})},
               {"tokenizer.ggml.token_type", json::array({2, 3, 3, 6, 1, 1, 1})},
               {"tokenizer.ggml.bos_token_id", 1u},
               {"tokenizer.ggml.eos_token_id", 2u},
               {"tokenizer.ggml.unknown_token_id", 0u}};
  using Ids = std::vector<int64_t>;
  EXPECT_EQ(encode(meta, "a a\n", true), (Ids{1, 6, 6, 3}));  // BOS and the dummy prefix by default
  const TokenizerFiles files = hf_tokenizer(File::open(write_gguf(meta)));
  EXPECT_EQ(files.tokenizer["model"]["byte_fallback"], true);  // it has <0xNN> pieces
  EXPECT_EQ(files.tokenizer_config["add_bos_token"], true);
  meta["tokenizer.ggml.add_space_prefix"] = false;
  meta["tokenizer.ggml.add_bos_token"] = false;
  meta["tokenizer.ggml.add_eos_token"] = true;
  EXPECT_EQ(encode(meta, "a a", true), (Ids{5, 6, 2}));
}

// Each malformed file gives an Error naming the file and the key.
TEST(GgufTokenizer, MalformedMetadataNamesFileAndKey) {
  auto expect_error = [](const json& metadata, const std::string& key, const std::string& what) {
    const fs::path path = write_gguf(metadata);
    const std::string message = test::message_of<Error>([&] { hf_tokenizer(File::open(path)); });
    EXPECT_NE(message.find(path.string()), std::string::npos) << what << ": " << message;
    EXPECT_NE(message.find(key), std::string::npos) << what << ": " << message;
  };
  auto without = [](json m, const std::string& key) {
    m.erase(key);
    return m;
  };
  auto with = [](json m, const std::string& key, const json& value) {
    m[key] = value;
    return m;
  };
  const json base = toy_gpt2();
  expect_error(without(base, "tokenizer.ggml.model"), "tokenizer.ggml.model", "no model");
  expect_error(with(base, "tokenizer.ggml.model", "bert"), "tokenizer.ggml.model", "unsupported model");
  expect_error(with(base, "tokenizer.ggml.model", 3u), "tokenizer.ggml.model", "model not a string");
  expect_error(without(base, "tokenizer.ggml.tokens"), "tokenizer.ggml.tokens", "no tokens");
  expect_error(with(base, "tokenizer.ggml.tokens", "h"), "tokenizer.ggml.tokens", "tokens not an array");
  expect_error(with(base, "tokenizer.ggml.tokens", json::array({1, 2})), "tokenizer.ggml.tokens", "tokens not strings");
  expect_error(with(base, "tokenizer.ggml.tokens", json::array()), "tokenizer.ggml.tokens", "no tokens at all");
  json duplicate = base;
  duplicate["tokenizer.ggml.tokens"][4] = "h";
  expect_error(duplicate, "tokenizer.ggml.tokens", "duplicate token");
  expect_error(with(base, "tokenizer.ggml.token_type", json::array({3, 3})), "tokenizer.ggml.token_type",
               "fewer types than tokens");
  expect_error(with(base, "tokenizer.ggml.token_type", json::array({"3"})), "tokenizer.ggml.token_type",
               "types not integers");
  expect_error(without(base, "tokenizer.ggml.merges"), "tokenizer.ggml.merges", "no merges");
  expect_error(with(base, "tokenizer.ggml.merges", json::array({"he"})), "tokenizer.ggml.merges", "no space");
  expect_error(with(base, "tokenizer.ggml.merges", json::array({"h e x"})), "tokenizer.ggml.merges", "three parts");
  expect_error(with(base, "tokenizer.ggml.merges", json::array({"h q"})), "tokenizer.ggml.merges", "unknown token");
  expect_error(with(base, "tokenizer.ggml.merges", json::array({"e h"})), "tokenizer.ggml.merges", "no token eh");
  expect_error(with(base, "tokenizer.ggml.bos_token_id", 99u), "tokenizer.ggml.bos_token_id", "bos out of range");
  expect_error(with(base, "tokenizer.ggml.eos_token_id", "1"), "tokenizer.ggml.eos_token_id", "eos not an integer");
  expect_error(with(base, "tokenizer.ggml.pre", true), "tokenizer.ggml.pre", "pre not a string");
  expect_error(with(base, "tokenizer.ggml.add_bos_token", 1u), "tokenizer.ggml.add_bos_token", "flag not a bool");
  expect_error(with(without(base, "tokenizer.ggml.bos_token_id"), "tokenizer.ggml.add_bos_token", true),
               "tokenizer.ggml.add_bos_token", "BOS asked for, none named");
  expect_error(with(base, "tokenizer.chat_template", 5u), "tokenizer.chat_template", "template not a string");

  const json spm = {{"tokenizer.ggml.model", "llama"},
                    {"tokenizer.ggml.tokens", json::array({"<unk>", "<s>", "</s>", "a"})},
                    {"tokenizer.ggml.scores", json::array({0.0, 0.0, 0.0, -1.0})},
                    {"tokenizer.ggml.token_type", json::array({2, 3, 3, 1})}};
  expect_error(without(spm, "tokenizer.ggml.scores"), "tokenizer.ggml.scores", "no scores");
  expect_error(with(spm, "tokenizer.ggml.scores", json::array({0.0})), "tokenizer.ggml.scores", "too few scores");
  expect_error(with(spm, "tokenizer.ggml.scores", json::array({"a", "b", "c", "d"})), "tokenizer.ggml.scores",
               "scores not numbers");
  expect_error(with(spm, "tokenizer.ggml.add_space_prefix", "yes"), "tokenizer.ggml.add_space_prefix",
               "add_space_prefix not a bool");
}

}  // namespace
}  // namespace modelswarm::gguf
