#include "modelswarm/swarm/sharded_problem.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <exception>
#include <iomanip>
#include <sstream>
#include <thread>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"

namespace modelswarm::swarm {

std::vector<int64_t> split_rows(int64_t rows, const std::vector<double>& speeds) {
  const size_t n = speeds.size();
  MS_CHECK(n > 0, "split_rows: no scorer");
  double known = 0;
  size_t known_count = 0;
  for (double s : speeds)
    if (std::isfinite(s) && s > 0) known += s, ++known_count;
  std::vector<double> weight(n);
  for (size_t i = 0; i < n; ++i)
    weight[i] = std::isfinite(speeds[i]) && speeds[i] > 0 ? speeds[i] : known_count ? known / known_count : 1.0;
  double total = 0;
  for (double w : weight) total += w;
  // Every scorer takes at least one row while there are enough; the rest by weight, rounded by
  // cumulative sums so that the counts add up exactly.
  const int64_t floor_each = rows >= static_cast<int64_t>(n) ? 1 : 0;
  const int64_t spread = rows - floor_each * static_cast<int64_t>(n);
  std::vector<int64_t> counts(n, floor_each);
  double cumulative = 0;
  int64_t given = 0;
  for (size_t i = 0; i < n; ++i) {
    cumulative += weight[i];
    const int64_t upto = i + 1 == n ? spread : static_cast<int64_t>(std::llround(spread * cumulative / total));
    counts[i] += upto - given;
    given = upto;
  }
  if (rows < static_cast<int64_t>(n)) {  // fewer rows than scorers: the first ones take one each
    counts.assign(n, 0);
    for (int64_t i = 0; i < rows; ++i) counts[i] = 1;
  }
  return counts;
}

void for_each_share(const std::vector<int64_t>& counts,
                    const std::function<void(size_t scorer, int64_t begin, int64_t count)>& work) {
  std::vector<std::exception_ptr> errors(counts.size());
  std::vector<std::thread> threads;
  int64_t begin = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const int64_t start = begin, count = counts[i];
    begin += count;
    if (count == 0) continue;
    threads.emplace_back([&, i, start, count] {
      try {
        work(i, start, count);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

std::string describe_shares(const std::vector<Share>& shares, const std::vector<std::string>& names) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1);
  for (size_t i = 0; i < shares.size(); ++i) {
    if (i) out << "; ";
    out << names[i] << ": " << shares[i].rows << " rows";
    if (shares[i].rows > 0 && shares[i].seconds > 0) out << ", " << shares[i].rows / shares[i].seconds << " rows/s";
  }
  return out.str();
}

ShardedProblem::ShardedProblem(std::vector<Problem*> replicas, std::vector<std::string> names)
    : replicas_(std::move(replicas)), names_(std::move(names)), shares_(replicas_.size()),
      speeds_(replicas_.size(), 0.0) {
  MS_CHECK(!replicas_.empty() && replicas_.size() == names_.size(), "ShardedProblem: ", replicas_.size(),
           " replicas, ", names_.size(), " names");
  for (const Problem* r : replicas_)
    MS_CHECK(r->dimension() == replicas_.front()->dimension(), "ShardedProblem: replicas of different dimensions");
}

std::vector<double> ShardedProblem::evaluate(const at::Tensor& positions) {
  const std::vector<int64_t> counts = split_rows(positions.size(0), speeds_);
  std::vector<std::vector<double>> parts(replicas_.size());
  for (size_t i = 0; i < replicas_.size(); ++i) shares_[i] = {counts[i], 0.0};
  for_each_share(counts, [&](size_t i, int64_t begin, int64_t count) {
    const auto start = std::chrono::steady_clock::now();
    parts[i] = replicas_[i]->evaluate(positions.narrow(0, begin, count));
    shares_[i].seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  });
  std::vector<double> out;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    MS_CHECK(static_cast<int64_t>(parts[i].size()) == counts[i], names_[i], " returned ", parts[i].size(),
             " utilities for ", counts[i], " rows");
    out.insert(out.end(), parts[i].begin(), parts[i].end());
    if (shares_[i].rows > 0 && shares_[i].seconds > 0) speeds_[i] = shares_[i].rows / shares_[i].seconds;
  }
  log::debug(cat("shares: ", describe_shares(shares_, names_)));
  return out;
}

}  // namespace modelswarm::swarm
