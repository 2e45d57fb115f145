// `modelswarm bench --export` and scripts/bench_reference.py: transformers + PEFT load the exported
// model and particle and score the exported multiple-choice set as this engine does, so that the
// reference timings are of the same model and data.
#include <ATen/ATen.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "modelswarm/lora/expert_pool.h"
#include "modelswarm/model/scoring.h"
#include "modelswarm/model/transformer.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(BenchExport, TransformersAndPeftScoreTheExportLikeTheEngine) {
  const fs::path dir = test::temp_dir("bench-reference") / "export";
  const auto bench = test::run_cli({"-q", "bench", "--preset", "tiny", "--phases", "pso", "--particles", "2", "--rank",
                                    "2", "--questions", "2", "--choices", "3", "--prompt-tokens", "6",
                                    "--choice-tokens", "3", "--device", "cpu", "--dtype", "float32", "--min-seconds", "0", "--matmul-size",
                                    "64", "--export", dir.string()});
  ASSERT_EQ(bench.exit_code, 0) << bench.output;
  std::string output;
  ASSERT_TRUE(test::run_python("../../scripts/bench_reference.py",
                               {dir.string(), "--particles", "1", "--loglikelihood", "--max-new-tokens", "2",
                                "--threads", "1", "--json"},
                               &output));
  const size_t start = output.rfind("\n{") == std::string::npos ? 0 : output.rfind("\n{") + 1;
  const json reference = json::parse(output.substr(start));
  EXPECT_GT(reference["generate"]["seconds_per_particle"].get<double>(), 0);
  const json& expected = reference["loglikelihood"]["first_particle"];  // [question][choice]

  const auto model = model::Transformer::load(dir / "model", c10::Device(c10::kCPU), at::kFloat);
  const auto pool = lora::ExpertPool::load({dir / "particles" / "0"}, model.base_shapes());
  std::vector<model::ScoringRequest> requests;
  std::ifstream mc(dir / "mc.jsonl");
  std::string line;
  while (std::getline(mc, line)) {
    const json q = json::parse(line);
    for (const auto& choice : q["choice_ids"])
      requests.push_back({q["prompt_ids"].get<std::vector<int64_t>>(), choice.get<std::vector<int64_t>>()});
  }
  ASSERT_EQ(requests.size(), 6u);
  const at::Tensor scores = model::score_loglikelihood(model, &pool.layout, pool.weights, requests, 64);  // (1,6)
  for (int64_t r = 0; r < 6; ++r)
    EXPECT_NEAR(scores[0][r].item<double>(), expected[r / 3][r % 3].get<double>(), 1e-3) << r;
  // The particle matters: the base model scores differently.
  const at::Tensor base = model::score_loglikelihood(model, nullptr, at::Tensor(), requests, 64);
  EXPECT_GT((base - scores).abs().max().item<double>(), 1e-4);
}

}  // namespace
}  // namespace modelswarm
