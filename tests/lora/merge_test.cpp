// Merge baselines (lora/merge.h) on small synthetic pools: each definition on cases worked out by
// hand, defaults, determinism and the option errors. tests/cli/merge_test.cpp checks the same
// methods against Hugging Face PEFT's add_weighted_adapter.
#include "modelswarm/lora/merge.h"

#include <ATen/CPUGeneratorImpl.h>

#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

const std::string kQ = "model.layers.0.self_attn.q_proj";  // out 12, in 16
const std::string kUp = "model.layers.0.mlp.up_proj";      // out 20, in 16

lora::Adapter adapter_of(const std::string& name, std::vector<lora::Module> modules) {
  lora::Adapter a;
  a.directory = name;
  a.modules = std::move(modules);
  return a;
}

// A random expert: q_proj, and up_proj unless `with_up` is false.
lora::Adapter random_expert(const std::string& name, int64_t rank, double scaling, uint64_t seed, bool with_up = true) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<lora::Module> modules = {
      {kQ, at::randn({rank, 16}, g, at::kFloat), at::randn({12, rank}, g, at::kFloat), scaling}};
  if (with_up) modules.push_back({kUp, at::randn({rank, 16}, g, at::kFloat), at::randn({20, rank}, g, at::kFloat), scaling});
  return adapter_of(name, std::move(modules));
}

lora::ExpertPool pool_of(std::vector<lora::Adapter> adapters) {
  std::vector<std::string> names;
  for (const auto& a : adapters) names.push_back(a.directory.string());
  return lora::ExpertPool::from_adapters(std::move(adapters), std::move(names));
}

// Three experts: ranks 4, 2 (padded to 4) and 4, scalings 2, 0.5 and 1; the second lacks up_proj.
lora::ExpertPool random_pool() {
  return pool_of({random_expert("a", 4, 2.0, 1), random_expert("b", 2, 0.5, 2, /*with_up=*/false),
                  random_expert("c", 4, 1.0, 3)});
}

at::Tensor delta(const lora::PoolLayout& layout, const at::Tensor& row, const std::string& module) {
  const auto& slot = *layout.find(module);
  return at::mm(layout.b_view(row, slot), layout.a_view(row, slot));  // (out, in), scaling 1
}

// One module of shape (1, in) and rank 1 per expert, ΔW_i = the given row: its SVD is exact.
lora::ExpertPool row_pool(const std::vector<std::vector<float>>& rows) {
  std::vector<lora::Adapter> adapters;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto n = static_cast<int64_t>(rows[i].size());
    adapters.push_back(adapter_of("e" + std::to_string(i),
                                  {{kQ, at::tensor(rows[i], at::kFloat).view({1, n}), at::ones({1, 1}), 1.0}}));
  }
  return pool_of(std::move(adapters));
}

at::Tensor merged_row(const std::string& method, const lora::ExpertPool& pool, const lora::MergeOptions& o) {
  return delta(pool.layout, lora::merge(method, pool, o), kQ).view(-1);
}

TEST(Merge, RegistryListsTheMethodsSorted) {
  EXPECT_EQ(lora::merge_methods(), (std::vector<std::string>{"dare_ties", "linear", "task_arithmetic", "ties"}));
  for (const auto& m : lora::merge_methods()) EXPECT_FALSE(lora::merge_method_summary(m).empty()) << m;
}

TEST(Merge, LinearIsTheWeightedSumOfAAndOfBAndDefaultsToTheUniformAverage) {
  const auto pool = random_pool();
  const at::Tensor average = lora::merge("linear", pool);
  ASSERT_EQ(average.sizes(), at::IntArrayRef({pool.layout.dim()}));
  EXPECT_LT(test::max_abs_diff(average, pool.weights.mean(0)), 1e-6);
  const at::Tensor mix = lora::merge("linear", pool, {{2.0, -1.0, 0.5}});  // negative weights are meaningful here
  EXPECT_LT(test::max_abs_diff(mix, 2 * pool.weights[0] - pool.weights[1] + 0.5 * pool.weights[2]), 1e-5);
}

TEST(Merge, TaskArithmeticOfOneExpertReproducesItsDelta) {
  const auto single = pool_of({random_expert("a", 4, 2.0, 1)});
  const auto& original = single.adapters[0];
  const at::Tensor row = lora::merge("task_arithmetic", single, {{1.0}});
  for (const auto& m : original.modules) {
    const at::Tensor want = m.scaling * at::mm(m.B, m.A);
    EXPECT_LT(test::max_abs_diff(delta(single.layout, row, m.name), want), 1e-5 * want.abs().max().item<double>())
        << m.name;
  }

  // In a pool: expert b (rank 2, padded to 4, no up_proj) alone, scaled by 3.
  const auto pool = random_pool();
  const at::Tensor b_only = lora::merge("task_arithmetic", pool, {{0.0, 3.0, 0.0}});
  const auto& bq = *pool.adapters[1].find(kQ);
  const at::Tensor want = 3 * bq.scaling * at::mm(bq.B, bq.A);
  EXPECT_LT(test::max_abs_diff(delta(pool.layout, b_only, kQ), want), 1e-5 * want.abs().max().item<double>());
  EXPECT_EQ(delta(pool.layout, b_only, kUp).abs().max().item<double>(), 0.0);
}

TEST(Merge, TaskArithmeticIsTheTruncatedSvdOfTheWeightedSumOfDeltas) {
  const auto pool = random_pool();
  const std::vector<double> w = {0.5, -1.0, 0.25};
  const at::Tensor row = lora::merge("task_arithmetic", pool, {w});
  for (const auto& slot : pool.layout.slots()) {
    at::Tensor sum = at::zeros({slot.out_features, slot.in_features});
    for (int64_t i = 0; i < pool.size(); ++i) sum += w[i] * delta(pool.layout, pool.weights[i], slot.name);
    const auto [u, s, vh] = at::linalg_svd(sum, /*full_matrices=*/false);
    const at::Tensor best = at::mm(u.narrow(1, 0, slot.rank) * s.narrow(0, 0, slot.rank), vh.narrow(0, 0, slot.rank));
    EXPECT_LT(test::max_abs_diff(delta(pool.layout, row, slot.name), best), 1e-4) << slot.name;
    EXPECT_GT(test::max_abs_diff(best, sum), 1e-2) << slot.name << ": the sum should exceed rank R (a real truncation)";
  }
}

TEST(Merge, TiesAtDensityOneWithAgreeingExpertsIsTheirMean) {
  // ΔW_i = c_i·ΔW_0 with c_i > 0: every entry agrees in sign.
  const auto base = random_expert("a", 4, 1.0, 5, /*with_up=*/false);
  std::vector<lora::Adapter> adapters;
  for (double c : {1.0, 0.5, 3.0}) {
    lora::Module m = base.modules[0];
    m.B = m.B * c;
    adapters.push_back(adapter_of("x" + std::to_string(c), {m}));
  }
  const auto pool = pool_of(std::move(adapters));
  const at::Tensor mean = (1.0 + 0.5 + 3.0) / 3 * delta(pool.layout, pool.weights[0], kQ);
  for (const std::string sign : {"total", "frequency"}) {
    lora::MergeOptions o;
    o.density = 1.0;
    o.majority_sign = sign;
    EXPECT_LT(test::max_abs_diff(delta(pool.layout, lora::merge("ties", pool, o), kQ), mean), 1e-5) << sign;
    EXPECT_LT(test::max_abs_diff(delta(pool.layout, lora::merge("dare_ties", pool, o), kQ), mean), 1e-5) << sign;
  }
}

TEST(Merge, TiesTrimsElectsTheSignAndTakesTheDisjointMean) {
  // Columns: (3, -1, 1) all but one positive; (-1, -2, 5) sums positive but is mostly negative.
  const auto pool = row_pool({{3, -1}, {-1, -2}, {1, 5}});
  lora::MergeOptions o;
  o.density = 1.0;
  EXPECT_TRUE(at::allclose(merged_row("ties", pool, o), at::tensor({2.0f, 5.0f})));  // (3+1)/2, 5/1
  o.majority_sign = "frequency";
  EXPECT_TRUE(at::allclose(merged_row("ties", pool, o), at::tensor({2.0f, -1.5f})));  // (3+1)/2, (-1-2)/2
  // Trimmed to ⌊0.5·2⌋ = 1 entry each: (3, 0), (0, -2), (0, 5); both elections then say +.
  o.density = 0.5;
  EXPECT_TRUE(at::allclose(merged_row("ties", pool, o), at::tensor({3.0f, 5.0f})));
  o.majority_sign = "total";
  EXPECT_TRUE(at::allclose(merged_row("ties", pool, o), at::tensor({3.0f, 5.0f})));
  // Weights scale the agreeing entries, not the election or the count: (2·3 + 1)/2, 5.
  o.density = 1.0;
  o.weights = {2.0, 1.0, 1.0};
  EXPECT_TRUE(at::allclose(merged_row("ties", pool, o), at::tensor({3.5f, 5.0f})));
  // Default weights are 1: ties at density 1 and the default dare_ties at density 1 coincide.
  o.weights.clear();
  EXPECT_TRUE(at::equal(lora::merge("ties", pool, o), lora::merge("dare_ties", pool, o)));
}

TEST(Merge, DareTiesIsDeterministicForASeedAndDropsAtTheGivenRate) {
  const auto pool = random_pool();
  lora::MergeOptions o;  // default density 0.5
  o.seed = 7;
  const at::Tensor first = lora::merge("dare_ties", pool, o);
  EXPECT_TRUE(at::equal(first, lora::merge("dare_ties", pool, o)));
  o.seed = 8;
  EXPECT_GT(test::max_abs_diff(first, lora::merge("dare_ties", pool, o)), 1e-3);

  // Two experts with ΔW = 1 everywhere: a kept entry is 1/0.5 = 2 and agrees, so the merged entry
  // is 2 unless both experts dropped it (probability 1/4), then 0.
  const auto ones = row_pool({std::vector<float>(4000, 1.0f), std::vector<float>(4000, 1.0f)});
  const at::Tensor merged = merged_row("dare_ties", ones, o);
  const at::Tensor zero = merged.abs() < 1e-3, two = (merged - 2).abs() < 1e-3;
  EXPECT_TRUE((zero | two).all().item<bool>());
  const double dropped = zero.to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(dropped, 0.25, 0.03);
}

TEST(Merge, ProvenanceGivesTheResolvedOptionsOfTheMethod) {
  const auto pool = random_pool();
  const auto ties = lora::merge_provenance("ties", pool, {});
  EXPECT_EQ(ties["method"], "ties");
  EXPECT_EQ(ties["experts"], nlohmann::json({"a", "b", "c"}));
  EXPECT_EQ(ties["weights"], nlohmann::json({1.0, 1.0, 1.0}));
  EXPECT_EQ(ties["density"], 0.5);
  EXPECT_EQ(ties["majority_sign"], "total");
  EXPECT_FALSE(ties.contains("seed"));
  EXPECT_TRUE(lora::merge_provenance("dare_ties", pool, {})["seed"] == 0);
  lora::MergeOptions o;
  o.density = 0.3;  // ignored by a method without density
  const auto linear = lora::merge_provenance("linear", pool, o);
  EXPECT_EQ(linear["weights"], nlohmann::json({1.0 / 3, 1.0 / 3, 1.0 / 3}));
  EXPECT_FALSE(linear.contains("density"));
  EXPECT_FALSE(lora::resolve_merge_options("task_arithmetic", 3, o).density.has_value());
}

TEST(Merge, BadOptionsAreConfigErrorsNamingTheOption) {
  const auto pool = random_pool();
  auto error = [&](const std::string& method, const lora::MergeOptions& o) {
    try {
      lora::merge(method, pool, o);
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.code(), ExitCode::kUsageError);
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      return std::string(e.what());
    }
    ADD_FAILURE() << method << ": no ConfigError";
    return std::string();
  };
  EXPECT_EQ(error("average", {}), "merge method: unknown \"average\" (known: dare_ties, linear, task_arithmetic, ties)");
  EXPECT_EQ(error("linear", {{0.5, 0.5}}), "merge linear: weights: 2 given for 3 experts (one per expert, in order)");
  EXPECT_NE(error("task_arithmetic", {{1.0, NAN, 1.0}}).find("weights: weight 2 is not finite"), std::string::npos);
  EXPECT_NE(error("ties", {{1.0, -1.0, 1.0}}).find("weights: weight 2 is -1;"), std::string::npos);
  EXPECT_NE(error("dare_ties", {{-0.5, 1.0, 1.0}}).find("no negative weights"), std::string::npos);
  for (double d : {0.0, -0.5, 1.5, double(NAN)}) {
    lora::MergeOptions o;
    o.density = d;
    EXPECT_NE(error("ties", o).find("merge ties: density must be in (0, 1], got"), std::string::npos) << d;
  }
  lora::MergeOptions sign;
  sign.majority_sign = "mean";
  EXPECT_EQ(error("ties", sign), "merge ties: majority_sign must be \"total\" or \"frequency\", got \"mean\"");
}

}  // namespace
}  // namespace modelswarm
