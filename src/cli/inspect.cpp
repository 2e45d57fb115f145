#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "modelswarm/common/error.h"
#include "modelswarm/formats/safetensors.h"

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

}  // namespace

CommandRunner add_inspect_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("inspect", "Describe a model directory, an adapter directory or a .safetensors file");
  sub->add_option("PATH", *path, "Model directory, PEFT adapter directory or .safetensors file")->required();
  return [path]() -> int {
    const fs::path p(*path);
    std::error_code ec;
    if (!fs::exists(p, ec)) throw Error(cat(p.string(), ": no such file or directory"));
    if (!fs::is_directory(p, ec)) return inspect_safetensors(p);
    throw Error(cat(p.string(), ": not a model directory (config.json) nor an adapter directory (adapter_config.json)"));
  };
}

}  // namespace modelswarm::cli
