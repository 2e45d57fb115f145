// Synthetic utilities for the optimiser's tests: cheap, exact, and with known optima.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "modelswarm/swarm/problem.h"

namespace modelswarm::test {

/// f(x) = -||x - optimum||²: concave, maximum 0 at `optimum` (D).
class QuadraticBowl : public swarm::Problem {
 public:
  explicit QuadraticBowl(at::Tensor optimum) : optimum_(optimum.to(at::kFloat)) {}
  int64_t dimension() const override { return optimum_.size(0); }
  std::vector<double> evaluate(const at::Tensor& positions) override {
    ++calls;
    evaluated_rows += positions.size(0);
    at::Tensor f = -(positions.to(at::kDouble) - optimum_.to(at::kDouble).unsqueeze(0)).pow(2).sum(1);  // (M)
    return std::vector<double>(f.data_ptr<double>(), f.data_ptr<double>() + f.numel());
  }
  std::string name() const override { return "bowl"; }
  int64_t calls = 0;
  int64_t evaluated_rows = 0;

 private:
  at::Tensor optimum_;  // (D)
};

/// Any per-row function of the position (D) -> utility.
class RowFunction : public swarm::Problem {
 public:
  RowFunction(int64_t dim, std::function<double(const at::Tensor&)> f) : dim_(dim), f_(std::move(f)) {}
  int64_t dimension() const override { return dim_; }
  std::vector<double> evaluate(const at::Tensor& positions) override {
    std::vector<double> out;
    for (int64_t m = 0; m < positions.size(0); ++m) out.push_back(f_(positions[m]));
    return out;
  }

 private:
  int64_t dim_;
  std::function<double(const at::Tensor&)> f_;
};

}  // namespace modelswarm::test
