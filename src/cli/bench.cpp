// `modelswarm bench`: engine throughput on a random model of a chosen size (bench/bench.h).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "modelswarm/bench/bench.h"
#include "modelswarm/common/atomic_file.h"

namespace modelswarm::cli {

CommandRunner add_bench_command(CLI::App& app) {
  auto o = std::make_shared<bench::BenchOptions>();
  auto as_json = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand(
      "bench", "Measure the engine on a random model against the device's matmul peak: forward passes, "
               "multiple-choice scoring, generation and the swarm update, batched vs particle by particle");
  sub->add_option("--preset", o->preset, "Model size: tiny (stories260K), 25m, 100m, 1b")
      ->capture_default_str()
      ->check(CLI::IsMember({"tiny", "25m", "100m", "1b"}));
  sub->add_option("--phases", o->phases, "Phases to run, comma-separated: forward, mc, generate, pso")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--particles", o->particles, "P: LoRA particles")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--compare-particles", o->compare_particles,
                  "Particles of the comparison-only paths (no sharing, one by one); figures are also given per "
                  "particle (0: all P)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--rank", o->rank, "LoRA rank of every particle")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--batch", o->batch, "forward: rows per particle")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--seq", o->seq, "forward: tokens per row")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--questions", o->questions, "mc: questions")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--choices", o->choices, "mc: choices per question")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--prompt-tokens", o->prompt_tokens, "mc and generate: tokens per prompt")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--choice-tokens", o->choice_tokens, "mc: tokens per choice")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--gen-prompts", o->gen_prompts, "generate: prompts per particle")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--gen-tokens", o->gen_tokens, "generate: new tokens per prompt (greedy)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--max-batch-tokens", o->max_batch_tokens, "Tokens per forward pass (the engine's setting)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "auto, float32, bfloat16 or float16")->capture_default_str();
  sub->add_option("--min-seconds", o->min_seconds, "Time each measurement repeats for")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--matmul-size", o->matmul_size, "N of the peak's N×N matmuls (0: 1024 on CPU, 8192 on CUDA)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--seed", o->seed, "Seed of the random weights and workloads")->capture_default_str();
  sub->add_option("--export", o->export_dir,
                  "Also write the model (HF directory), the particles (PEFT adapters) and the mc set (JSONL) to "
                  "this directory, for scripts/bench_reference.py");
  sub->add_flag("--json", *as_json, "Print the report as JSON");
  auto json_file = std::make_shared<std::string>();
  sub->add_option("--json-file", *json_file, "Also write the JSON report to this file");
  return [o, as_json, json_file]() -> int {
    const bench::BenchReport report = bench::run_bench(*o);
    if (!json_file->empty()) write_text_atomic(*json_file, report.to_json().dump(2) + "\n");
    if (*as_json)
      std::cout << report.to_json().dump(2) << "\n";
    else
      std::cout << report.to_text();
    return 0;
  };
}

}  // namespace modelswarm::cli
