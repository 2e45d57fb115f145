// PEFT-made adapters on a tiny random Llama, generated once per test process by the oracle.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>

namespace modelswarm::test {

/// Directory with base/ (a tiny LlamaForCausalLM), adapters plain/, patterns/ (rsLoRA +
/// rank_pattern + alpha_pattern), rank16/, dora/, embedding/, and <name>.delta.safetensors with
/// PEFT's own ΔW per module. Empty path when the oracle failed (the test has already failed).
const std::filesystem::path& peft_fixture();

/// Module name -> ΔW from a .delta.safetensors written by the oracle.
std::map<std::string, at::Tensor> read_deltas(const std::filesystem::path& file);

}  // namespace modelswarm::test
