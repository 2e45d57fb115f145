// `modelswarm bench`: engine throughput on a random model of a chosen size (model/bench.h).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "modelswarm/model/bench.h"

namespace modelswarm::cli {

CommandRunner add_bench_command(CLI::App& app) {
  auto o = std::make_shared<model::BenchOptions>();
  auto as_json = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand("bench", "Measure forward throughput (base, batched particles, one by one) "
                                              "against the device's matmul peak on a random model");
  sub->add_option("--preset", o->preset, "Model size: tiny (stories260K), 25m, 100m, 1b")
      ->capture_default_str()
      ->check(CLI::IsMember({"tiny", "25m", "100m", "1b"}));
  sub->add_option("--batch", o->batch, "Rows per pass (per particle)")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--seq", o->seq, "Tokens per row")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--particles", o->particles, "P: LoRA particles")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--rank", o->rank, "LoRA rank of every particle")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "auto, float32, bfloat16 or float16")->capture_default_str();
  sub->add_option("--min-seconds", o->min_seconds, "Time each measurement repeats for")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--matmul-size", o->matmul_size, "N of the peak's N×N matmuls (0: 1024 on CPU, 8192 on CUDA)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--seed", o->seed, "Seed of the random weights")->capture_default_str();
  sub->add_flag("--json", *as_json, "Print the report as JSON");
  return [o, as_json]() -> int {
    const model::BenchReport report = model::run_bench(*o);
    if (*as_json)
      std::cout << report.to_json().dump(2) << "\n";
    else
      std::cout << report.to_text();
    return 0;
  };
}

}  // namespace modelswarm::cli
