// `modelswarm merge` on the committed demo experts (tiny Llama, six rank-8 experts with scaling 2):
// Hugging Face PEFT loads each adapter it writes and finds the same ΔW per module as its own
// add_weighted_adapter on the same experts (svd, ties_svd at density 0.5 and 1, dare_ties_svd at
// density 1); bad input ends with one line and the documented exit code, writing nothing.
#include <ATen/ATen.h>

#include <algorithm>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/formats/safetensors.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path kDemo = test::source_dir() / "demo";

std::vector<std::string> demo_experts() {
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(kDemo / "experts")) dirs.push_back(e.path().string());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

std::string joined(const std::vector<double>& values) {
  std::string out;
  for (double v : values) {
    if (!out.empty()) out += ',';
    out += json(v).dump();
  }
  return out;
}

struct Case {
  std::string name;
  std::vector<std::string> args;  // ours: after `merge`, before the expert directories
  json peft;                      // PEFT's add_weighted_adapter arguments
};

TEST(MergeCli, PeftLoadsEachMergeAndFindsItsOwnDeltaWeights) {
  const fs::path work = test::temp_dir("merge");
  const auto experts = demo_experts();
  ASSERT_EQ(experts.size(), 6u);
  const std::vector<double> signed_weights = {0.5, -0.25, 0.3, 0.2, 0.1, 0.15};
  const std::vector<double> uneven = {0.5, 1.0, 1.5, 1.0, 0.75, 1.25};
  const std::vector<double> ones(6, 1.0);
  const std::vector<Case> cases = {
      {"svd", {"--method", "task_arithmetic", "--weights", joined(signed_weights)},
       {{"combination_type", "svd"}, {"weights", signed_weights}}},
      // our defaults: weights 1, density 0.5, majority sign total; shapes checked on the base
      {"ties_half", {"--method", "ties", "--base-model", (kDemo / "base").string()},
       {{"combination_type", "ties_svd"}, {"weights", ones}, {"density", 0.5}}},
      {"ties_full", {"--method", "ties", "--density", "1", "--majority-sign", "frequency", "--weights", joined(uneven)},
       {{"combination_type", "ties_svd"}, {"weights", uneven}, {"density", 1.0}, {"majority_sign_method", "frequency"}}},
      {"dare_ties_full", {"--method", "dare_ties", "--density", "1", "--seed", "5"},
       {{"combination_type", "dare_ties_svd"}, {"weights", ones}, {"density", 1.0}}},
  };

  json spec = {{"experts", experts}, {"cases", json::array()}};
  for (const auto& c : cases) {
    std::vector<std::string> args = {"-q", "merge", "--output", (work / c.name).string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.insert(args.end(), experts.begin(), experts.end());
    const auto result = test::run_cli(args);
    ASSERT_EQ(result.exit_code, 0) << c.name << ": " << result.output;
    EXPECT_EQ(result.output.rfind("adapter: " + (work / c.name).string() + " (", 0), 0u) << result.output;

    const json config = json::parse(read_file(work / c.name / "adapter_config.json"));
    EXPECT_EQ(config["r"], 8);
    EXPECT_EQ(config["lora_alpha"], 8.0);  // scaling 1, as PEFT's merged adapter
    EXPECT_EQ(config["modelswarm"]["merge"]["method"], c.args[1]);
    EXPECT_EQ(config["modelswarm"]["merge"]["weights"], c.peft["weights"]) << c.name;
    if (c.peft.contains("density")) EXPECT_EQ(config["modelswarm"]["merge"]["density"], c.peft["density"]);

    json entry = c.peft;
    entry["name"] = c.name;
    entry["ours"] = (work / c.name).string();
    spec["cases"].push_back(entry);
  }
  write_text_atomic(work / "cases.json", spec.dump(2));
  ASSERT_TRUE(test::run_python("merge_oracle.py", {"compare", (kDemo / "base").string(), (work / "cases.json").string(),
                                                    (work / "deltas.safetensors").string()}));

  const auto deltas = safetensors::File::open(work / "deltas.safetensors");
  std::map<std::string, at::Tensor> svd_peft;
  for (const auto& c : cases) {
    int modules = 0;
    for (const auto& e : deltas.entries()) {
      const std::string prefix = c.name + "/peft/";
      if (e.name.rfind(prefix, 0) != 0) continue;
      const std::string module = e.name.substr(prefix.size());
      const at::Tensor peft = deltas.tensor(e);
      const at::Tensor ours = deltas.tensor(c.name + "/ours/" + module);
      const double scale = peft.abs().max().item<double>();
      EXPECT_GT(scale, 0) << c.name << " " << module;
      EXPECT_LT(test::max_abs_diff(ours, peft), 2e-5 * scale) << c.name << " " << module << " (max |ΔW| " << scale << ")";
      if (c.name == "svd") svd_peft[module] = peft;
      else if (svd_peft.count(module)) EXPECT_GT(test::max_abs_diff(peft, svd_peft[module]), 1e-2 * scale) << c.name;
      ++modules;
    }
    EXPECT_EQ(modules, 14) << c.name;  // 7 projections in each of 2 layers
  }
}

TEST(MergeCli, BadInputIsOneLineWithItsExitCodeAndWritesNothing) {
  const fs::path work = test::temp_dir("merge-bad");
  const auto experts = demo_experts();
  const fs::path out = work / "out";

  // A base model whose layer-0 down_proj is transposed.
  fs::create_directories(work / "wrong-base");
  safetensors::write(work / "wrong-base" / "model.safetensors",
                     {{"model.layers.0.mlp.down_proj.weight", at::zeros({128, 64})}});

  struct Bad {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  const std::vector<Bad> cases = {
      {{"--method", "average", experts[0], experts[1]}, 2,
       "merge method: unknown \"average\" (known: dare_ties, linear, task_arithmetic, ties)"},
      {{"--method", "linear", "--weights", "0.5,0.5", experts[0], experts[1], experts[2]}, 2,
       "merge linear: weights: 2 given for 3 experts"},
      {{"--method", "ties", "--density", "1.5", experts[0], experts[1]}, 2, "merge ties: density must be in (0, 1]"},
      {{"--method", "ties", "--weights=1,-1", experts[0], experts[1]}, 2, "no negative weights"},
      {{"--method", "ties", "--majority-sign", "mean", experts[0], experts[1]}, 2, "majority_sign must be"},
      {{"--method", "linear", (work / "missing").string()}, 1, "missing"},
      {{"--method", "linear", "--base-model", (work / "no-model").string(), experts[0]}, 1, "no-model"},
      {{"--method", "linear", experts[0], (kDemo / "base").string()}, 1, "adapter_config.json"},
      {{"--method", "linear", "--base-model", (work / "wrong-base").string(), experts[0]}, 1,
       "model.layers.0.mlp.down_proj adapts a 64x128 weight but the base model's is 128x64"},
  };
  for (const auto& bad : cases) {
    std::vector<std::string> args = {"-q", "merge", "--output", out.string()};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    const auto result = test::run_cli(args);
    EXPECT_EQ(result.exit_code, bad.exit_code) << result.output;
    EXPECT_NE(result.output.find(bad.message), std::string::npos) << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
    EXPECT_FALSE(fs::exists(out)) << bad.args[1];
  }
}

}  // namespace
}  // namespace modelswarm
