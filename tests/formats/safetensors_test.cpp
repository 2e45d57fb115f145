#include "modelswarm/formats/safetensors.h"

#include "test_utils.h"

namespace modelswarm {
namespace {

TEST(Safetensors, RoundTripsFloatTensor) {
  auto dir = test::temp_dir("st");
  at::Tensor t = at::arange(12, at::kFloat).reshape({3, 4});
  safetensors::write(dir / "a.safetensors", {{"x", t}});
  auto f = safetensors::File::open(dir / "a.safetensors");
  EXPECT_TRUE(f.tensor("x").equal(t));
}

}  // namespace
}  // namespace modelswarm
