// `modelswarm finetune`: LoRA supervised fine-tuning of a Hugging Face model on a JSONL file of
// prompt/completion records; writes a PEFT adapter directory (how users build expert pools).
#include <ATen/ATen.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/chat_options.h"
#include "cli/commands.h"
#include "modelswarm/common/device.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/formats/hf_cache.h"
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/model/transformer.h"
#include "modelswarm/train/sft_data.h"
#include "modelswarm/train/trainer.h"

namespace modelswarm::cli {
namespace fs = std::filesystem;

namespace {

struct FinetuneOptions {
  std::string model_dir, data, output;
  train::SftFields fields;
  train::LoraOptions lora;
  train::TrainOptions train;
  std::string target_modules = "q_proj,v_proj";
  int64_t max_length = 512;
  std::string device = "cpu";
  ChatOptions chat;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

int run_finetune(FinetuneOptions o) {
  configure_runtime();
  train::SftPromptFormat format;
  format.chat = parse_chat_options(o.chat);
  format.system = o.chat.system;
  const hf::Source source = hf::resolve(o.model_dir);
  o.model_dir = source.path.string();
  o.lora.target_modules = split_commas(o.target_modules);
  o.train.label = "finetune";
  const c10::Device device = parse_device(o.device);
  const model::Transformer model = model::Transformer::load(o.model_dir, device, at::kFloat);
  const auto tok = tokenizer::Tokenizer::from_model_dir(o.model_dir);
  const auto data = train::read_sft_data(o.data, tok, o.fields, o.max_length, format);
  log::info(cat("finetune: ", data.size(), " examples from ", o.data, "; LoRA r ", o.lora.rank, ", alpha ",
                o.lora.alpha, " on ", o.target_modules, "; ", o.train.steps, " steps of ", o.train.batch_size,
                " at lr ", o.train.learning_rate, ", seed ", o.train.seed));

  const auto result = train::train_lora(model, data, o.lora, o.train);
  const nlohmann::json provenance = {{"finetune", {{"data", o.data},
                                                   {"steps", o.train.steps},
                                                   {"batch_size", o.train.batch_size},
                                                   {"learning_rate", o.train.learning_rate},
                                                   {"seed", o.train.seed},
                                                   {"first_loss", result.losses.front()},
                                                   {"last_loss", result.losses.back()}}}};
  // base_model_name_or_path: the Hub id when the model came from the cache (as PEFT writes it).
  lora::write_adapter(o.output, result.modules,
                      source.hub && source.hub->subpath.empty() ? source.hub->repo_id
                                                                  : fs::absolute(o.model_dir).lexically_normal().string(),
                      provenance);
  std::cout << "adapter: " << o.output << " (loss " << result.losses.front() << " -> " << result.losses.back()
            << ")\n";
  return 0;
}

}  // namespace

CommandRunner add_finetune_command(CLI::App& app) {
  auto o = std::make_shared<FinetuneOptions>();
  CLI::App* sub = app.add_subcommand("finetune", "LoRA fine-tuning on prompt/completion JSONL; writes a PEFT adapter");
  sub->add_option("--model", o->model_dir, "Hugging Face model directory, or org/name[@revision] from the HF cache")
      ->required();
  sub->add_option("--data", o->data, "JSONL (or JSON array) of records with a prompt and a completion")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--output", o->output, "Adapter directory to write (replaced atomically)")->required();
  sub->add_option("--prompt-field", o->fields.prompt, "Record key of the prompt")->capture_default_str();
  sub->add_option("--completion-field", o->fields.completion, "Record key of the completion (the loss is on it only)")
      ->capture_default_str();
  sub->add_option("--rank", o->lora.rank, "LoRA rank r")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{4096}));
  sub->add_option("--alpha", o->lora.alpha, "LoRA alpha (scaling alpha / r)")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--target-modules", o->target_modules,
                  "Comma-separated projections (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj) or all-linear")
      ->capture_default_str();
  sub->add_option("--steps", o->train.steps, "Optimizer steps")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  sub->add_option("--lr", o->train.learning_rate, "Peak learning rate (AdamW; cosine decay to 10%)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--batch-size", o->train.batch_size, "Examples per step")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--warmup-steps", o->train.warmup_steps, "Linear warmup steps")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--weight-decay", o->train.weight_decay, "AdamW decoupled weight decay")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--seed", o->train.seed, "Seed of the A initialisation and the batch order")->capture_default_str();
  sub->add_option("--max-length", o->max_length, "Longest record in tokens (longer ones are an error)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  sub->add_option("--log-every", o->train.log_every, "Steps between loss lines (0: none)")->capture_default_str();
  add_chat_options(*sub, o->chat, "each prompt");
  sub->add_option("--device", o->device, "cpu (deterministic for a seed), cuda or cuda:N")->capture_default_str();
  return [o]() -> int { return run_finetune(*o); };
}

}  // namespace modelswarm::cli
