// CMA-ES, `search.algorithm` "cma_es": the (μ/μ_w, λ)-CMA-ES of Hansen's tutorial (arXiv
// 1604.00772, positive recombination weights only) with λ = swarm_size, μ = ⌊λ/2⌋.
//
//   covariance "full"      C is a D×D matrix (the coefficient space, D = the number of experts)
//   covariance "diagonal"  sep-CMA-ES (Ros & Hansen 2008): C is diagonal and its learning rates
//                          are scaled by (D+2)/3, so one iteration costs O(λ·D): the parameter
//                          space, where D is millions. Its step size and covariance adapt at rates
//                          of order 1/D, so within a few hundred iterations it is, in effect, a
//                          (μ/μ_w, λ) evolution strategy around a moving mean.
//   covariance "auto"      full when D ≤ 1000, diagonal above.
//
// Start: the mean m is the centroid of the initial points (the experts, perhaps their average),
// C = diag(s²) with s their per-coordinate standard deviation, and the step size σ = `sigma`: a
// sample then spreads around m as σ times the experts spread around their centroid. Iteration 0
// scores the initial points and fills λ rows with samples; the initial points enter the update as
// injected solutions, their step clipped to ‖C^{-1/2} y‖ ≤ √D + 2D/(D+2) (Hansen 2011). Every later
// iteration scores λ fresh samples x = m + σ·B·diag(d)·z, z ~ N(0, I), C = B·diag(d²)·Bᵀ.
// It returns the best rows it evaluated (elite_archive.h).
#include <ATen/ATen.h>

#include <cmath>
#include <numeric>
#include <sstream>

#include "modelswarm/common/error.h"
#include "swarm/algorithms/elite_archive.h"
#include "swarm/algorithms/option_fields.h"
#include "swarm/algorithms/registry.h"

namespace modelswarm::swarm {
namespace {
using nlohmann::json;

enum class Covariance { kAuto, kFull, kDiagonal };
constexpr int64_t kLargestFullDimension = 1000;

Covariance parse_covariance(const std::string& name) {
  if (name == "auto") return Covariance::kAuto;
  if (name == "full") return Covariance::kFull;
  if (name == "diagonal") return Covariance::kDiagonal;
  throw ConfigError(cat("search.covariance: must be auto, full or diagonal, got \"", name, "\""));
}
std::string to_string(Covariance c) {
  return c == Covariance::kAuto ? "auto" : c == Covariance::kFull ? "full" : "diagonal";
}

struct CmaEsOptions {
  double sigma = 0.5;  // σ0, in units of the initial points' spread
  Covariance covariance = Covariance::kAuto;
};

const detail::OptionFields<CmaEsOptions>& fields() {
  static const auto f = detail::OptionFields<CmaEsOptions>()
                            .number("sigma", &CmaEsOptions::sigma, detail::positive())
                            .choice<Covariance>("covariance", &CmaEsOptions::covariance, parse_covariance,
                                                [](Covariance c) { return to_string(c); });
  return f;
}

// The strategy's constants for λ rows of dimension D (Hansen's tutorial, table 1; sep-CMA-ES
// scales c_1 and c_μ by (D+2)/3).
struct Constants {
  std::vector<double> weights;  // (μ) positive, summing to 1
  double mu_eff, c_sigma, d_sigma, c_c, c_1, c_mu, chi_d, clip;

  Constants(int64_t lambda, int64_t dimension, bool diagonal) {
    const double d = static_cast<double>(dimension);
    const int64_t mu = std::max<int64_t>(1, lambda / 2);
    for (int64_t i = 1; i <= mu; ++i) weights.push_back(std::log((lambda + 1) / 2.0) - std::log(static_cast<double>(i)));
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    double squares = 0;
    for (double& w : weights) {
      w /= total;
      squares += w * w;
    }
    mu_eff = 1 / squares;
    c_sigma = (mu_eff + 2) / (d + mu_eff + 5);
    d_sigma = 1 + 2 * std::max(0.0, std::sqrt((mu_eff - 1) / (d + 1)) - 1) + c_sigma;
    c_c = (4 + mu_eff / d) / (d + 4 + 2 * mu_eff / d);
    c_1 = 2 / ((d + 1.3) * (d + 1.3) + mu_eff);
    c_mu = std::min(1 - c_1, 2 * (mu_eff - 2 + 1 / mu_eff) / ((d + 2) * (d + 2) + mu_eff));
    if (diagonal) {
      c_1 = std::min(1.0, c_1 * (d + 2) / 3);
      c_mu = std::min(1 - c_1, c_mu * (d + 2) / 3);
    }
    chi_d = std::sqrt(d) * (1 - 1 / (4 * d) + 1 / (21 * d * d));
    clip = std::sqrt(d) + 2 * d / (d + 2);
  }
};

class CmaEs : public Algorithm {
 public:
  CmaEs(CommonOptions common, CmaEsOptions options) : Algorithm(common), options_(options) {}

  std::string name() const override { return "cma_es"; }
  json own_options() const override { return fields().to_json(options_); }

  void initialise(State& s, const at::Tensor& initial) const override {
    const at::Tensor points = initial.to(at::kDouble);  // (n, D)
    const int64_t dimension = points.size(1);
    const bool diagonal = options_.covariance == Covariance::kDiagonal ||
                          (options_.covariance == Covariance::kAuto && dimension > kLargestFullDimension);
    at::Tensor spread = points.size(0) > 1 ? points.std(0, /*unbiased=*/false) : at::ones({dimension}, points.options());
    // Where every initial point agrees the search barely moves, but C stays invertible.
    spread = spread.clamp_min(1e-8 * std::max(spread.mean().item<double>(), 1e-12));
    s.tensors["mean"] = points.mean(0);
    s.tensors["p_sigma"] = at::zeros({dimension}, points.options());
    s.tensors["p_c"] = at::zeros({dimension}, points.options());
    if (diagonal) {
      s.tensors["C_diagonal"] = spread.square();
    } else {
      s.tensors["C"] = at::diag(spread.square());
      s.tensors["B"] = at::eye(dimension, points.options());
      s.tensors["d"] = spread.clone();
    }
    s.data = {{"sigma", options_.sigma}, {"generation", 0}, {"covariance", diagonal ? "diagonal" : "full"}};
    const int64_t fill = common().swarm_size - points.size(0);
    const at::Tensor own = initial.to(at::kFloat);
    s.positions = fill > 0 ? at::cat({own, sample(s, fill)}) : own.clone();
  }

  std::vector<int64_t> ask(State& s, IterationRecord& record) const override {
    record.extra["sigma"] = s.data.at("sigma");
    s.positions = sample(s, common().swarm_size);
    return s.every_row();
  }

  void tell(State& s, const std::vector<int64_t>& evaluated, IterationRecord& record) const override {
    if (record.iteration == 0) record.extra["sigma"] = s.data.at("sigma");
    detail::update_elite_archive(s, evaluated, record.iteration, common().swarm_size);
    update(s);
  }

  std::vector<Elite> elite(const State& s, int64_t k) const override { return detail::archive_elite(s, k); }

  void check(const State& s, const std::string& where) const override {
    const int64_t d = s.dimension();
    auto vector_of = [&](const char* name) {
      const at::Tensor& t = s.tensor(name);
      MS_CHECK(t.dim() == 1 && t.size(0) == d, where, ": cma_es's ", name, " must have ", d, " elements");
    };
    for (const char* name : {"mean", "p_sigma", "p_c"}) vector_of(name);
    MS_CHECK(s.data.contains("sigma") && s.data.at("sigma").is_number() && s.data.at("sigma").get<double>() > 0 &&
                 s.data.contains("generation") && s.data.contains("covariance"),
             where, ": cma_es's sigma, generation and covariance are missing or invalid");
    if (diagonal(s)) {
      vector_of("C_diagonal");
    } else {
      vector_of("d");
      for (const char* name : {"C", "B"})
        MS_CHECK(s.tensor(name).dim() == 2 && s.tensor(name).size(0) == d && s.tensor(name).size(1) == d, where,
                 ": cma_es's ", name, " must be ", d, " x ", d);
    }
    detail::check_elite_archive(s, where);
  }

  json summary(const State& s) const override {
    return {{"sigma", s.data.at("sigma")}, {"covariance", s.data.at("covariance")}};
  }

  std::string progress(const State& s) const override {
    std::ostringstream line;
    line << "sigma " << s.data.at("sigma").get<double>();
    return line.str();
  }

 private:
  static bool diagonal(const State& s) { return s.data.at("covariance") == "diagonal"; }

  // (m, D) fp32 samples of N(mean, σ²C); the host stream seeds their generator.
  at::Tensor sample(State& s, int64_t m) const {
    const at::Tensor& mean = s.tensor("mean");
    at::Generator generator = at::detail::createCPUGenerator(s.rng.bits());
    const at::Tensor z = at::randn({m, mean.size(0)}, generator, at::TensorOptions(at::kDouble)).to(mean.device());
    const double sigma = s.data.at("sigma").get<double>();
    const at::Tensor steps = diagonal(s) ? z * s.tensor("C_diagonal").sqrt()
                                         : (z * s.tensor("d")).matmul(s.tensor("B").t());  // (m, D)
    return (mean.unsqueeze(0) + sigma * steps).to(at::kFloat);
  }

  // C^{-1/2} applied to each row of y (k, D).
  static at::Tensor whiten(const State& s, const at::Tensor& y) {
    if (diagonal(s)) return y / s.tensor("C_diagonal").sqrt();
    const at::Tensor& b = s.tensor("B");
    return (y.matmul(b) / s.tensor("d")).matmul(b.t());
  }

  void update(State& s) const {
    const int64_t dimension = s.dimension();
    const Constants k(common().swarm_size, dimension, diagonal(s));
    const double sigma = s.data.at("sigma").get<double>();
    at::Tensor& mean = s.tensor("mean");

    // The μ best rows (stable: ties keep row order; a failed row, -inf, ranks last).
    std::vector<int64_t> order(s.utilities.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s.utilities[a] > s.utilities[b]; });
    order.resize(k.weights.size());
    const at::Tensor best = s.positions.index_select(0, at::tensor(order, at::kLong).to(mean.device())).to(at::kDouble);
    at::Tensor y = (best - mean.unsqueeze(0)) / sigma;  // (μ, D)
    const at::Tensor norms = whiten(s, y).norm(2, 1, /*keepdim=*/true);
    y = y * (k.clip / norms.clamp_min(k.clip)).clamp_max(1.0);
    const at::Tensor w = at::tensor(k.weights, at::kDouble).to(mean.device());  // (μ)
    const at::Tensor y_w = w.matmul(y);                                         // (D)

    mean.add_(y_w, sigma);
    at::Tensor& p_sigma = s.tensor("p_sigma");
    p_sigma.mul_(1 - k.c_sigma).add_(whiten(s, y_w.unsqueeze(0)).squeeze(0),
                                     std::sqrt(k.c_sigma * (2 - k.c_sigma) * k.mu_eff));
    const int64_t generation = s.data.at("generation").get<int64_t>() + 1;
    const double p_sigma_norm = p_sigma.norm().item<double>();
    const bool h_sigma = p_sigma_norm / std::sqrt(1 - std::pow(1 - k.c_sigma, 2.0 * static_cast<double>(generation))) <
                         (1.4 + 2 / (static_cast<double>(dimension) + 1)) * k.chi_d;
    at::Tensor& p_c = s.tensor("p_c");
    p_c.mul_(1 - k.c_c);
    if (h_sigma) p_c.add_(y_w, std::sqrt(k.c_c * (2 - k.c_c) * k.mu_eff));
    const double delta = h_sigma ? 0 : k.c_c * (2 - k.c_c);
    const double keep = 1 + k.c_1 * delta - k.c_1 - k.c_mu;
    if (diagonal(s)) {
      at::Tensor& c = s.tensor("C_diagonal");
      c.mul_(keep).add_(p_c.square(), k.c_1).add_(w.matmul(y.square()), k.c_mu);
    } else {
      at::Tensor& c = s.tensor("C");
      c.mul_(keep).add_(at::outer(p_c, p_c), k.c_1).add_((y.t() * w).matmul(y), k.c_mu);
      c.copy_((c + c.t()) / 2);
      const auto [eigenvalues, eigenvectors] = at::linalg_eigh(c);
      s.tensors["B"] = eigenvectors;
      s.tensors["d"] = eigenvalues.clamp_min(1e-300).sqrt();
    }
    s.data["sigma"] = sigma * std::exp(k.c_sigma / k.d_sigma * (p_sigma_norm / k.chi_d - 1));
    s.data["generation"] = generation;
  }

  CmaEsOptions options_;
};

}  // namespace

namespace detail {

AlgorithmEntry cma_es_algorithm() {
  return {"cma_es", "(mu/mu_w, lambda)-CMA-ES: full covariance in the coefficient space, sep-CMA-ES in the parameter space",
          [](const CommonOptions& common, JsonReader& search) -> std::shared_ptr<const Algorithm> {
            CmaEsOptions o;
            fields().read(search, o);
            fields().validate(o);
            return std::make_shared<CmaEs>(common, o);
          }};
}

}  // namespace detail
}  // namespace modelswarm::swarm
