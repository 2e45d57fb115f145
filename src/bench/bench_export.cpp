#include "bench/bench_export.h"

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/lora/adapter.h"

namespace modelswarm::bench {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kSpecials[] = {"<unk>", "<s>", "</s>"};

// The character of token `id` (see bench_export.h), UTF-8 encoded.
std::string token_text(int64_t id) {
  if (id < 3) return kSpecials[id];
  if (id < 29) return std::string(1, static_cast<char>('A' + (id - 3)));
  const uint32_t cp = 0x10000 + static_cast<uint32_t>(id);
  return {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
          static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
}

// Text of ids, specials dropped.
std::string text_of(const std::vector<int64_t>& ids) {
  std::string text;
  for (int64_t id : ids)
    if (id >= 3) text += token_text(id);
  return text;
}

json tokenizer_json(int64_t vocab_size) {
  json vocab = json::object();
  for (int64_t id = 0; id < vocab_size; ++id) vocab[token_text(id)] = id;
  json added = json::array();
  for (int64_t id = 0; id < 3; ++id)
    added.push_back({{"id", id}, {"content", kSpecials[id]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", {{"type", "Fuse"}}},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", "<unk>"},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", json::array()}}}};
}

}  // namespace

void export_bench(const fs::path& dir, const json& config_json, const std::map<std::string, at::Tensor>& weights,
                  const lora::PoolLayout& layout, const at::Tensor& particles, const MultipleChoiceSet& mc) {
  const int64_t V = config_json.at("vocab_size").get<int64_t>();
  write_directory_atomic(dir / "model", [&](const fs::path& out) {
    json config = config_json;
    config["torch_dtype"] = "float32";
    write_text_atomic(out / "config.json", config.dump(2) + "\n");
    write_text_atomic(out / "tokenizer.json", tokenizer_json(V).dump() + "\n");
    safetensors::NamedTensors tensors(weights.begin(), weights.end());
    for (auto& [name, t] : tensors) t = t.to(at::kCPU, at::kFloat);
    safetensors::write(out / "model.safetensors", tensors);
  });
  const at::Tensor rows = particles.to(at::kCPU, at::kFloat);  // (P,D)
  write_directory_atomic(dir / "particles", [&](const fs::path& out) {
    for (int64_t p = 0; p < rows.size(0); ++p)
      lora::write_adapter(out / std::to_string(p), layout.unflatten(rows[p]), (dir / "model").string(),
                          {{"bench_particle", p}});
  });
  write_file_atomic(dir / "mc.jsonl", [&](std::ostream& out) {
    for (size_t q = 0; q < mc.prompts.size(); ++q) {
      json choice_texts = json::array();
      for (const auto& c : mc.choices[q]) choice_texts.push_back(text_of(c));
      out << json{{"prompt_ids", mc.prompts[q]}, {"choice_ids", mc.choices[q]}, {"gold", mc.gold[q]},
                  {"prompt", text_of(mc.prompts[q])}, {"choices", choice_texts}}.dump()
          << "\n";
    }
  });
  log::info(cat("bench: exported the model, ", rows.size(0), " particles and ", mc.prompts.size(),
                " questions to ", dir.string()));
}

}  // namespace modelswarm::bench
