#include "modelswarm/lora/expert_pool.h"

#include "lora/peft_fixture.h"
#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm {
namespace {

at::Tensor delta(const lora::Module& m) { return m.scaling * at::matmul(m.B, m.A); }

TEST(ExpertPool, AlignsPadsAndFoldsScalingExactly) {
  const auto& fixture = test::peft_fixture();
  ASSERT_FALSE(fixture.empty());
  auto pool = lora::ExpertPool::load({fixture / "plain", fixture / "patterns", fixture / "rank16"});
  ASSERT_EQ(pool.size(), 3);
  EXPECT_EQ(pool.names, (std::vector<std::string>{"plain", "patterns", "rank16"}));
  EXPECT_EQ(pool.weights.size(1), pool.layout.dim());
  // q_proj of layer 0 appears with ranks 4, 8 and 16: padded to 16.
  const auto* q = pool.layout.find("model.layers.0.self_attn.q_proj");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->rank, 16);
  // 2 layers x 7 modules, all present in "patterns".
  EXPECT_EQ(pool.layout.slots().size(), 14u);

  for (int64_t e = 0; e < pool.size(); ++e) {
    const auto& adapter = pool.adapters[e];
    auto modules = pool.layout.unflatten(pool.weights[e]);
    for (const auto& m : modules) {
      EXPECT_EQ(m.scaling, 1.0);
      const lora::Module* original = adapter.find(m.name);
      at::Tensor expected = original ? delta(*original) : at::zeros({m.B.size(0), m.A.size(1)});
      EXPECT_LT(test::max_abs_diff(delta(m), expected), 1e-6) << pool.names[e] << " " << m.name;
    }
  }
}

TEST(ExpertPool, RoundTripsThroughPeftFiles) {
  const auto& fixture = test::peft_fixture();
  ASSERT_FALSE(fixture.empty());
  auto pool = lora::ExpertPool::load({fixture / "plain", fixture / "patterns"});
  auto dir = test::temp_dir("roundtrip");
  at::Tensor mix = 0.3 * pool.weights[0] + 0.7 * pool.weights[1];
  lora::write_adapter(dir / "mix", pool.layout.unflatten(mix), "tiny");
  auto back = lora::read_adapter(dir / "mix");
  at::Tensor row = pool.layout.flatten(back);
  for (const auto& slot : pool.layout.slots()) {
    at::Tensor want = at::matmul(pool.layout.b_view(mix, slot), pool.layout.a_view(mix, slot));
    at::Tensor got = at::matmul(pool.layout.b_view(row, slot), pool.layout.a_view(row, slot));
    EXPECT_LT(test::max_abs_diff(got, want), 1e-6) << slot.name;
  }
  EXPECT_TRUE(at::allclose(row, mix));
}

TEST(ExpertPool, ViewsOfAParticleBatchAreTheModuleMatrices) {
  lora::PoolLayout layout({{"model.layers.0.self_attn.q_proj", 2, 3, 4}, {"model.layers.0.mlp.up_proj", 1, 3, 5}});
  EXPECT_EQ(layout.dim(), 2 * 3 + 4 * 2 + 1 * 3 + 5 * 1);
  at::Tensor particles = at::arange(3 * layout.dim(), at::kFloat).reshape({3, layout.dim()});
  const auto& up = *layout.find("model.layers.0.mlp.up_proj");
  at::Tensor b = layout.b_view(particles, up);
  EXPECT_EQ(b.sizes(), at::IntArrayRef({3, 5, 1}));
  EXPECT_EQ(b[2][4][0].item<float>(), particles[2][up.b_offset + 4].item<float>());
  EXPECT_EQ(lora::PoolLayout::from_json(layout.to_json()).dim(), layout.dim());
}

TEST(ExpertPool, ChecksShapesAgainstEachOtherAndTheBase) {
  const auto& fixture = test::peft_fixture();
  ASSERT_FALSE(fixture.empty());
  auto a = lora::read_adapter(fixture / "plain");
  auto b = lora::read_adapter(fixture / "rank16");
  auto& q = const_cast<lora::Module&>(*b.find("model.layers.0.self_attn.q_proj"));
  q.A = at::zeros({q.A.size(0), 7});  // a different base's width
  try {
    lora::ExpertPool::from_adapters({a, b}, {"a", "b"});
    ADD_FAILURE() << "mismatched experts accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.self_attn.q_proj"), std::string::npos) << e.what();
  }
  auto narrow_base = [](const std::string& name) -> std::optional<std::pair<int64_t, int64_t>> {
    if (name.find("q_proj") != std::string::npos) return std::make_pair(int64_t(32), int64_t(64));
    return std::make_pair(int64_t(32), int64_t(32));
  };
  EXPECT_THROW(lora::ExpertPool::load({fixture / "plain"}, narrow_base), Error);
  auto no_such_module = [](const std::string&) -> std::optional<std::pair<int64_t, int64_t>> { return std::nullopt; };
  EXPECT_THROW(lora::ExpertPool::load({fixture / "plain"}, no_such_module), Error);
}

}  // namespace
}  // namespace modelswarm
