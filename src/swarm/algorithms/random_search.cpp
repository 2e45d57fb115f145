// Random search, `search.algorithm` "random_search": the honest floor every method must beat.
// Iteration 0 scores the initial points (the experts, perhaps their average) and fills the
// population with samples; every later iteration scores swarm_size fresh samples, drawn
//   hull  (default) x = Σ_j w_j·e_j with w ~ Dirichlet(1, …, 1) over the initial points e_j:
//         uniform over their simplex of mixing weights, so over their convex hull when the
//         points are affinely independent;
//   box   x_d ~ U(min_j e_jd, max_j e_jd) in each coordinate d independently.
// It returns the best rows it evaluated (elite_archive.h).
#include <ATen/ATen.h>

#include <cmath>

#include "modelswarm/common/error.h"
#include "swarm/algorithms/elite_archive.h"
#include "swarm/algorithms/option_fields.h"
#include "swarm/algorithms/registry.h"

namespace modelswarm::swarm {
namespace {

enum class Distribution { kHull, kBox };

Distribution parse_distribution(const std::string& name) {
  if (name == "hull") return Distribution::kHull;
  if (name == "box") return Distribution::kBox;
  throw ConfigError(cat("search.distribution: must be hull or box, got \"", name, "\""));
}
std::string to_string(Distribution d) { return d == Distribution::kHull ? "hull" : "box"; }

struct RandomSearchOptions {
  Distribution distribution = Distribution::kHull;
};

const detail::OptionFields<RandomSearchOptions>& fields() {
  static const auto f = detail::OptionFields<RandomSearchOptions>().choice<Distribution>(
      "distribution", &RandomSearchOptions::distribution, parse_distribution,
      [](Distribution d) { return to_string(d); });
  return f;
}

class RandomSearch : public Algorithm {
 public:
  RandomSearch(CommonOptions common, RandomSearchOptions options) : Algorithm(common), options_(options) {}

  std::string name() const override { return "random_search"; }
  nlohmann::json own_options() const override { return fields().to_json(options_); }

  void initialise(State& s, const at::Tensor& initial) const override {
    const at::Tensor points = initial.to(at::kFloat).contiguous();  // (n, D)
    s.tensors["initial"] = points;
    const int64_t fill = common().swarm_size - points.size(0);
    s.positions = fill > 0 ? at::cat({points, sample(s, fill)}) : points.clone();
  }

  std::vector<int64_t> ask(State& s, IterationRecord&) const override {
    s.positions = sample(s, common().swarm_size);
    return s.every_row();
  }

  void tell(State& s, const std::vector<int64_t>& evaluated, IterationRecord& record) const override {
    detail::update_elite_archive(s, evaluated, record.iteration, common().swarm_size);
  }

  std::vector<Elite> elite(const State& s, int64_t k) const override { return detail::archive_elite(s, k); }

  void check(const State& s, const std::string& where) const override {
    const at::Tensor& points = s.tensor("initial");
    MS_CHECK(points.dim() == 2 && points.size(1) == s.dimension(), where, ": the initial points do not match (N, ",
             s.dimension(), ")");
    detail::check_elite_archive(s, where);
  }

 private:
  // (m, D) fresh samples. The host stream draws the Dirichlet weights itself and seeds the
  // box's generator, so a seeded run is reproducible and resumes exactly.
  at::Tensor sample(State& s, int64_t m) const {
    const at::Tensor& points = s.tensor("initial");  // (n, D)
    const int64_t n = points.size(0);
    if (options_.distribution == Distribution::kHull) {
      std::vector<double> weights(static_cast<size_t>(m * n));
      for (int64_t r = 0; r < m; ++r) {
        double total = 0;
        for (int64_t j = 0; j < n; ++j) total += weights[r * n + j] = -std::log(s.rng.uniform());
        for (int64_t j = 0; j < n; ++j) weights[r * n + j] /= total;
      }
      const at::Tensor w = at::tensor(weights, at::kDouble).view({m, n}).to(points.device(), at::kFloat);
      return w.matmul(points);
    }
    at::Generator generator = at::detail::createCPUGenerator(s.rng.bits());
    const at::Tensor u = at::rand({m, points.size(1)}, generator, at::TensorOptions(at::kFloat));
    const at::Tensor low = std::get<0>(points.min(0)), high = std::get<0>(points.max(0));
    return low + u.to(points.device()) * (high - low);
  }

  RandomSearchOptions options_;
};

}  // namespace

namespace detail {

AlgorithmEntry random_search_algorithm() {
  return {"random_search", "uniform samples over the experts' hull or bounding box: the floor to beat",
          [](const CommonOptions& common, JsonReader& search) -> std::shared_ptr<const Algorithm> {
            RandomSearchOptions o;
            fields().read(search, o);
            return std::make_shared<RandomSearch>(common, o);
          }};
}

}  // namespace detail
}  // namespace modelswarm::swarm
