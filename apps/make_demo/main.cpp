// make_demo: regenerates the demo assets (demo/ in the repository) from a seed. Developer tool,
// not part of the modelswarm command line: `build/make_demo --out demo` re-creates the committed
// files (same seed, same bytes on CPU); --countries/--pretrain-steps/--expert-steps shrink it.
// `build/make_demo --quality-targets DIR` writes only the search-quality suite's target quizzes
// (scripts/quality.sh), from the same world, without building or training anything.
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/demo/make_demo.h"
#include "modelswarm/demo/quality_targets.h"

int main(int argc, char** argv) {
  using namespace modelswarm;
  CLI::App app{"Regenerates the modelswarm demo (base model, experts, quiz) from a seed", "make_demo"};
  std::string out = "demo";
  std::string quality_targets;  // empty: make the demo
  demo::DemoOptions o;
  app.add_option("--out", out, "Output directory")->capture_default_str();
  app.add_option("--seed", o.seed, "World, initialisation and batch-order seed")->capture_default_str();
  app.add_option("--countries", o.countries, "Countries in the world (quiz: 3 questions each)")->capture_default_str();
  app.add_option("--pretrain-steps", o.pretrain.steps, "Base model training steps")->capture_default_str();
  app.add_option("--expert-steps", o.finetune.steps, "LoRA steps per expert")->capture_default_str();
  app.add_option("--expert-lr", o.finetune.learning_rate, "LoRA learning rate")->capture_default_str();
  app.add_option("--quality-targets", quality_targets,
                 "Write only the quality suite's target quizzes (DIR/<target>.jsonl) into DIR; no training");
  CLI11_PARSE(app, argc, argv);
  setup_logging(Verbosity::kNormal);
  try {
    if (!quality_targets.empty()) {
      for (const auto& path : demo::write_quality_targets(quality_targets, o)) std::cout << path.string() << "\n";
      return 0;
    }
    // One thread: the tiny model gains nothing from more, and the bytes then match on any machine.
    at::set_num_threads(1);
    demo::make_demo(out, o);
    std::cout << "demo assets written to " << out << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "make_demo: error: " << e.what() << "\n";
    return 1;
  }
}
