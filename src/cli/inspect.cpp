#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/atomic_file.h"
#include "modelswarm/formats/hf_cache.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/lora/adapter.h"

#include <nlohmann/json.hpp>

namespace modelswarm::cli {
namespace fs = std::filesystem;

namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void print_entries(const std::vector<safetensors::TensorEntry>& entries) {
  int64_t total = 0;
  for (const auto& e : entries) {
    std::cout << "  " << e.name << "  " << safetensors::dtype_name(e.dtype) << " " << shape_string(e.shape) << "\n";
    total += e.numel();
  }
  std::cout << entries.size() << " tensors, " << total << " parameters\n";
}

int inspect_safetensors(const fs::path& path) {
  auto file = safetensors::File::open(path);
  std::cout << path.string() << ": safetensors file\n";
  for (const auto& [k, v] : file.metadata()) std::cout << "  metadata " << k << " = " << v << "\n";
  print_entries(file.entries());
  return 0;
}

int inspect_model(const fs::path& dir) {
  const fs::path config_path = dir / "config.json";
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(read_file(config_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(config_path.string(), ": invalid JSON: ", e.what()));
  }
  std::cout << dir.string() << ": model directory\n";
  if (config.contains("architectures")) std::cout << "  architectures: " << config["architectures"].dump() << "\n";
  for (const char* key : {"model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "num_key_value_heads", "head_dim", "tie_word_embeddings", "torch_dtype"}) {
    if (config.contains(key)) std::cout << "  " << key << ": " << config[key].dump() << "\n";
  }
  print_entries(safetensors::checkpoint_entries(dir));
  return 0;
}

int inspect_adapter(const fs::path& dir) {
  const auto adapter = lora::read_adapter(dir);
  const auto& c = adapter.config;
  std::cout << dir.string() << ": PEFT LoRA adapter\n";
  std::cout << "  base model: " << (c.base_model_name_or_path.empty() ? "(not recorded)" : c.base_model_name_or_path) << "\n";
  std::cout << "  r: " << c.r << ", lora_alpha: " << c.lora_alpha << (c.use_rslora ? ", rsLoRA" : "") << "\n";
  if (!c.target_modules.is_null()) std::cout << "  target_modules: " << c.target_modules.dump() << "\n";
  int64_t parameters = 0;
  for (const auto& m : adapter.modules) {
    std::cout << "  " << m.name << "  rank " << m.A.size(0) << "  A " << shape_string(m.A.sizes().vec()) << "  B "
              << shape_string(m.B.sizes().vec()) << "  scaling " << m.scaling << "\n";
    parameters += m.A.numel() + m.B.numel();
  }
  std::cout << adapter.modules.size() << " modules, " << parameters << " parameters\n";
  return 0;
}

}  // namespace

CommandRunner add_inspect_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("inspect", "Describe a model directory, an adapter directory or a .safetensors file");
  sub->add_option("PATH", *path,
                  "Model directory, PEFT adapter directory or .safetensors file; or org/name[@revision][/path] "
                  "from the Hugging Face cache")
      ->required();
  return [path]() -> int {
    const fs::path p = hf::resolve_path(*path);
    std::error_code ec;
    if (!fs::exists(p, ec)) throw Error(cat(p.string(), ": no such file or directory"));
    if (!fs::is_directory(p, ec)) return inspect_safetensors(p);
    if (fs::exists(p / "adapter_config.json")) return inspect_adapter(p);
    if (fs::exists(p / "config.json")) return inspect_model(p);
    throw Error(cat(p.string(), ": not a model directory (config.json) nor an adapter directory (adapter_config.json)"));
  };
}

}  // namespace modelswarm::cli
