// `modelswarm bench --export DIR`: the bench's random model, particles and multiple-choice set
// in standard formats, so that scripts/bench_reference.py times the transformers + PEFT way on
// exactly the same model and data:
//   DIR/model/        config.json, model.safetensors (fp32), tokenizer.json
//   DIR/particles/N/  PEFT LoRA adapter of particle N (scaling 1)
//   DIR/mc.jsonl      {"prompt_ids", "choice_ids", "gold", "prompt", "choices"} per question
// The tokenizer maps every id to one character (no merges): 3-28 are "A"-"Z", the others
// distinct characters from U+10000 on, so ids and text convert both ways exactly.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <string>

#include "bench/bench_support.h"

namespace modelswarm::bench {

void export_bench(const std::filesystem::path& dir, const nlohmann::json& config_json,
                  const std::map<std::string, at::Tensor>& weights, const lora::PoolLayout& layout,
                  const at::Tensor& particles, const MultipleChoiceSet& mc);

}  // namespace modelswarm::bench
