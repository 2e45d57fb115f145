// `modelswarm generate`: the continuation of one prompt by a model directory, optionally with a
// PEFT LoRA adapter, greedy unless a temperature is given. Prints only the continuation.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/chat_options.h"
#include "cli/commands.h"
#include "modelswarm/common/device.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/formats/hf_cache.h"
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/generate.h"
#include "modelswarm/model/transformer.h"
#include "modelswarm/utility/chat_template.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::cli {
namespace fs = std::filesystem;

namespace {

struct GenerateOptions {
  std::string model_dir;
  std::string adapter_dir;     // empty: the base model
  std::string prompt;
  ChatOptions chat;
  int64_t max_new_tokens = 64;
  double temperature = 0.0;    // 0 = greedy
  double top_p = 1.0;          // 1 = no nucleus cut
  uint64_t seed = 0;
  std::string device = "auto";
  std::string dtype = "auto";
};


int run_generate(GenerateOptions o) {
  configure_runtime();
  const auto chat = parse_chat_options(o.chat);
  o.model_dir = hf::resolve_path(o.model_dir).string();
  if (!o.adapter_dir.empty()) o.adapter_dir = hf::resolve_path(o.adapter_dir).string();
  c10::InferenceMode inference;
  const c10::Device device = parse_device(o.device);
  const DtypeChoice choice = choose_dtype(o.dtype, device);
  const c10::ScalarType dtype = choice.dtype;
  const model::Transformer model = model::Transformer::load(o.model_dir, device, dtype);
  const auto tok = tokenizer::Tokenizer::from_model_dir(o.model_dir);
  log::info(cat("generate: ", model.config().architecture, " from ", o.model_dir,
                " on ", device.str(), " in ", describe(choice)));

  // The adapter becomes a pool of one expert: particle 0 of a one-row batch.
  lora::ExpertPool pool;
  model::LoraBatch lora;
  if (!o.adapter_dir.empty()) {
    pool = lora::ExpertPool::from_adapters({lora::read_adapter(o.adapter_dir)}, {hf::display_name(o.adapter_dir)},
                                           model.base_shapes());
    model.check_layout(pool.layout);
    lora = {&pool.layout, pool.weights.to(device, dtype), at::zeros({1}, at::TensorOptions(device).dtype(at::kLong)),
            /*runs=*/{}};
  }

  // A chat-formatted prompt carries its own BOS, as the utilities encode it.
  const std::string text = chat ? chat->apply(o.prompt, o.chat.system, *utility::tokenizer_encoder(tok)) : o.prompt;
  const std::vector<int64_t> prompt = tok.encode(text, /*add_special_tokens=*/!chat);
  if (prompt.empty()) throw ConfigError("--prompt: encodes to no tokens; give some text");
  const int64_t context = static_cast<int64_t>(prompt.size()) + o.max_new_tokens;
  if (context > model.config().max_position_embeddings)
    log::warn(cat("generate: ", prompt.size(), " prompt tokens + ", o.max_new_tokens,
                  " new ones exceed the model's max_position_embeddings ", model.config().max_position_embeddings));

  model::SamplingOptions sampling;
  sampling.max_new_tokens = o.max_new_tokens;
  sampling.temperature = o.temperature;
  sampling.top_p = o.top_p;
  sampling.seed = o.seed;
  sampling.eos_ids = tok.eos_ids();
  for (int64_t id : model.config().eos_token_ids) sampling.eos_ids.push_back(id);
  const auto generated = model::generate_ids(model, {prompt}, o.adapter_dir.empty() ? nullptr : &lora, sampling);
  std::cout << tok.decode_continuation(prompt, generated.at(0)) << std::endl;
  return 0;
}

}  // namespace

CommandRunner add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* sub = app.add_subcommand("generate", "Continue a prompt with a model (and optionally a LoRA adapter)");
  sub->add_option("--model", o->model_dir, "Hugging Face model directory, or org/name[@revision] from the HF cache")
      ->required();
  sub->add_option("--adapter", o->adapter_dir,
                  "PEFT LoRA adapter directory to apply, or org/name[@revision][/subfolder] from the HF cache");
  sub->add_option("--prompt", o->prompt, "Text to continue (BOS is added as the tokenizer says)")->required();
  add_chat_options(*sub, o->chat, "the prompt");
  sub->add_option("--max-new-tokens", o->max_new_tokens, "Most tokens to generate (stops earlier at EOS)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--temperature", o->temperature, "Sampling temperature; 0 = greedy")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  sub->add_option("--top-p", o->top_p, "Nucleus sampling mass in (0, 1]")
      ->capture_default_str()
      ->check(CLI::Range(1e-9, 1.0));
  sub->add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
  sub->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "auto, float32, bfloat16 or float16")->capture_default_str();
  return [o]() -> int { return run_generate(*o); };
}

}  // namespace modelswarm::cli
