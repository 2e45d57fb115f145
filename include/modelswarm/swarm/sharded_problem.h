// One problem's rows split over several scorers: replicas of the model on several devices in one
// process (ShardedProblem), or ranks of a distributed job (dist/rank_problem.h). A row's utility
// does not depend on which scorer took it, so the split may follow each scorer's measured speed
// without changing any result.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "modelswarm/swarm/problem.h"

namespace modelswarm::swarm {

/// How many of `rows` each scorer takes: in proportion to `speeds` (rows per second; 0 or
/// non-finite counts as the mean of the others, all unknown as equal), each at least one while
/// there are rows for everyone, in contiguous order. Deterministic in its inputs.
std::vector<int64_t> split_rows(int64_t rows, const std::vector<double>& speeds);

/// Runs work(scorer, begin, count) for every scorer with rows (counts from split_rows), each in
/// its own thread, rows [begin, begin + count) in order; waits for all, then rethrows the first
/// scorer's error, if any.
void for_each_share(const std::vector<int64_t>& counts,
                    const std::function<void(size_t scorer, int64_t begin, int64_t count)>& work);

/// What a scorer did in the last call: rows taken and seconds spent.
struct Share {
  int64_t rows = 0;
  double seconds = 0;
};

/// "scorer 0: 10 rows, 31.2 rows/s; scorer 1: ..." with `what` naming the scorers ("device cpu").
std::string describe_shares(const std::vector<Share>& shares, const std::vector<std::string>& names);

/// Several replicas of one problem (the same utility on one model per device), scored
/// concurrently, one thread per replica. The next call's split follows this call's speeds.
class ShardedProblem : public Problem {
 public:
  /// replicas[i] and names[i] ("cuda:1"); all of the same dimension.
  ShardedProblem(std::vector<Problem*> replicas, std::vector<std::string> names);

  int64_t dimension() const override { return replicas_.front()->dimension(); }
  std::vector<double> evaluate(const at::Tensor& positions) override;
  std::string name() const override { return replicas_.front()->name(); }

  const std::vector<Share>& last_shares() const { return shares_; }

 private:
  std::vector<Problem*> replicas_;
  std::vector<std::string> names_;
  std::vector<Share> shares_;
  std::vector<double> speeds_;  // rows per second of each replica in its last call
};

}  // namespace modelswarm::swarm
