// `modelswarm merge`: one PEFT adapter made from expert adapters by a merge baseline
// (lora/merge.h): linear, task_arithmetic, ties, dare_ties.
#include <ATen/ATen.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "modelswarm/common/device.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/lora/adapter.h"
#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/lora/merge.h"

namespace modelswarm::cli {
namespace fs = std::filesystem;

namespace {

struct MergeParams {
  std::string method;
  std::vector<double> weights;  // empty: the method's default
  double density = 0;           // used when given
  bool density_given = false;
  std::string majority_sign = "total";
  uint64_t seed = 0;
  std::string base_model;  // optional: check the experts' shapes against it
  std::string output;
  std::vector<std::string> experts;
};

int run_merge(const MergeParams& p) {
  configure_runtime();
  lora::MergeOptions options;
  options.weights = p.weights;
  if (p.density_given) options.density = p.density;
  options.majority_sign = p.majority_sign;
  options.seed = p.seed;
  // The options are checked before any file is read.
  lora::resolve_merge_options(p.method, static_cast<int64_t>(p.experts.size()), options);

  const std::vector<fs::path> directories(p.experts.begin(), p.experts.end());
  const auto pool = lora::ExpertPool::load(directories, p.base_model.empty() ? nullptr : lora::base_shapes_of(p.base_model));
  log::info(cat("merge: ", p.method, " of ", pool.size(), " experts, ", pool.layout.slots().size(), " modules"));

  const at::Tensor row = lora::merge(p.method, pool, options);
  const nlohmann::json provenance = lora::merge_provenance(p.method, pool, options);
  const std::string base_name =
      p.base_model.empty() ? pool.base_model_name_or_path : fs::absolute(p.base_model).lexically_normal().string();
  lora::write_adapter(p.output, pool.layout.unflatten(row), base_name, {{"merge", provenance}});

  std::cout << "adapter: " << p.output << " (" << p.method << " of " << pool.size() << " experts";
  if (provenance.contains("density")) std::cout << ", density " << provenance["density"].get<double>();
  std::cout << ")\n";
  return 0;
}

}  // namespace

CommandRunner add_merge_command(CLI::App& app) {
  auto p = std::make_shared<MergeParams>();
  std::string methods;
  for (const auto& m : lora::merge_methods()) methods += "\n  " + m + ": " + lora::merge_method_summary(m);
  CLI::App* sub = app.add_subcommand("merge", "Merge expert adapters into one PEFT adapter (a baseline for the search)");
  sub->add_option("--method", p->method, "Merge method:" + methods)->required();
  sub->add_option("--weights", p->weights, "One weight per expert, comma-separated (default: the method's)")
      ->delimiter(',')
      ->allow_extra_args(false);  // one comma-separated argument: the expert directories follow
  CLI::Option* density = sub->add_option("--density", p->density,
                                         "ties, dare_ties: fraction of each ΔW kept, in (0, 1] (default 0.5)");
  sub->add_option("--majority-sign", p->majority_sign, "ties, dare_ties: sign election, total or frequency")
      ->capture_default_str();
  sub->add_option("--seed", p->seed, "dare_ties: seed of the drop masks")->capture_default_str();
  sub->add_option("--base-model", p->base_model, "Base model directory: check the experts' shapes against it");
  sub->add_option("--output", p->output, "Adapter directory to write (replaced atomically)")->required();
  // Directories are checked by their readers, whose errors name the file (exit 1).
  sub->add_option("EXPERT_DIR", p->experts, "PEFT LoRA adapter directories, in the order of --weights")->required();
  return [p, density]() -> int {
    p->density_given = density->count() > 0;
    return run_merge(*p);
  };
}

}  // namespace modelswarm::cli
