// Builds the demo's assets from one seed with the project's own code: a tiny Llama pretrained
// (all weights) on the fact formats of a synthetic world, six LoRA experts fine-tuned on one
// skill each, and the target quiz. `make_demo` (apps/make_demo) is the command; the committed
// demo/ directory is its output for the default options.
#pragma once

#include <cstdint>
#include <filesystem>

#include "modelswarm/train/trainer.h"

namespace modelswarm::demo {

struct DemoOptions {
  uint64_t seed = 1;
  int countries = 200;
  int values = 8;  // answers per topic
  int64_t hidden_size = 64, intermediate_size = 128, layers = 2, heads = 4;
  train::TrainOptions pretrain;   // full-weight training of the base
  train::TrainOptions finetune;   // each expert (one seed for all: one A initialisation)
  train::LoraOptions lora;
  DemoOptions();
};

/// Writes OUT/base (config.json, tokenizer.json, tokenizer_config.json, model.safetensors),
/// OUT/experts/<topic>-<edition>/ (PEFT adapters), OUT/data/quiz.jsonl and OUT/train/*.jsonl
/// (the training sets, for re-running `modelswarm finetune`). Each directory is written atomically.
void make_demo(const std::filesystem::path& out, const DemoOptions& options);

}  // namespace modelswarm::demo
