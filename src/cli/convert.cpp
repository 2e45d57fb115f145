// `modelswarm convert llama2c MODEL.bin TOKENIZER.model OUT_DIR` and
// `modelswarm convert gguf FILE.gguf OUT_DIR`: other checkpoint formats to a Hugging Face model
// directory that the engine, transformers and PEFT all load.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/formats/gguf_convert.h"
#include "modelswarm/formats/hf_cache.h"
#include "modelswarm/formats/llama2c.h"

namespace modelswarm::cli {

namespace {
struct ConvertOptions {
  std::string model_bin;
  std::string tokenizer_model;
  std::string out_dir;
  std::string gguf_file;
  std::string dtype = "float32";
};

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  throw ConfigError(cat("--dtype: \"", name, "\" is not float32 or bfloat16"));
}
}  // namespace

CommandRunner add_convert_command(CLI::App& app) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* sub = app.add_subcommand("convert", "Convert a checkpoint into a Hugging Face model directory");
  sub->require_subcommand(1);
  CLI::App* llama2c = sub->add_subcommand(
      "llama2c", "A llama2.c checkpoint (legacy version 0, e.g. stories260K.bin) and its SentencePiece tokenizer");
  llama2c->add_option("MODEL_BIN", opts->model_bin, "llama2.c checkpoint (.bin)")->required();
  llama2c->add_option("TOKENIZER_MODEL", opts->tokenizer_model, "SentencePiece model (.model)")->required();
  llama2c->add_option("OUT_DIR", opts->out_dir, "Model directory to write (replaced atomically if it exists)")
      ->required();
  CLI::App* gguf = sub->add_subcommand(
      "gguf", "A GGUF file (llama.cpp, Ollama): llama, qwen2, qwen3 or gemma, quantised or not");
  gguf->add_option("GGUF_FILE", opts->gguf_file, "the .gguf file")->required();
  gguf->add_option("OUT_DIR", opts->out_dir, "Model directory to write (replaced atomically if it exists)")
      ->required();
  gguf->add_option("--dtype", opts->dtype, "float32 (default) or bfloat16: the dtype of the written weights");
  return [opts, gguf]() -> int {
    if (gguf->parsed()) {
      gguf::convert(hf::resolve_path(opts->gguf_file), opts->out_dir, parse_dtype(opts->dtype));
      log::info(cat("wrote ", opts->out_dir, " (", opts->dtype, ", from ", opts->gguf_file, ")"));
      return 0;
    }
    // Either input may also be a file in a cached Hub repository: org/name[@revision]/path.
    llama2c::convert(hf::resolve_path(opts->model_bin), hf::resolve_path(opts->tokenizer_model), opts->out_dir);
    log::info(cat("wrote ", opts->out_dir, " (LlamaForCausalLM from ", opts->model_bin, ")"));
    return 0;
  };
}

}  // namespace modelswarm::cli
