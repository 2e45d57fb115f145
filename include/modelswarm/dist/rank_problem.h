// A problem whose rows are split over the ranks of a distributed job (world.h): each rank scores
// its share, the utilities travel through the store, and every rank returns all of them. The
// split follows each rank's rows per second in the previous call, which every rank knows from
// the same exchange, so all ranks agree on it; a row's utility does not depend on who scored it.
#pragma once

#include <ATen/core/Tensor.h>

#include "modelswarm/dist/world.h"
#include "modelswarm/swarm/problem.h"
#include "modelswarm/swarm/sharded_problem.h"

namespace modelswarm::dist {

class RankShardedProblem : public swarm::Problem {
 public:
  /// `local` scores this rank's share on its own device.
  RankShardedProblem(swarm::Problem& local, RankGroup& group);

  int64_t dimension() const override { return local_->dimension(); }
  std::vector<double> evaluate(const at::Tensor& positions) override;
  std::string name() const override { return local_->name(); }

  const std::vector<swarm::Share>& last_shares() const { return shares_; }

 private:
  swarm::Problem* local_;
  RankGroup* group_;
  int64_t calls_ = 0;  // the exchange's tag: every rank makes the same calls in the same order
  std::vector<swarm::Share> shares_;
  std::vector<double> speeds_;
};

}  // namespace modelswarm::dist
