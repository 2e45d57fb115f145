// Which adapter a search returns, and when it warns that its dev gain did not carry over.
#include "modelswarm/search/candidates.h"

#include <ATen/ATen.h>

#include <cmath>

#include "test_utils.h"

namespace modelswarm {
namespace {
using search::Candidate;
using search::CandidateKind;
using search::SelectionSplit;

Candidate make(CandidateKind kind, const std::string& name, double dev, double validation = NAN, double test = NAN) {
  return {kind, name, at::zeros({2}), dev, validation, test};
}

TEST(Candidates, WithoutValidationTheHighestDevWinsAndTiesGoToTheSwarm) {
  std::vector<Candidate> c = {make(CandidateKind::kSwarm, "global best", 0.60), make(CandidateKind::kExpert, "a", 0.50),
                              make(CandidateKind::kUniformAverage, "uniform average", 0.60),
                              make(CandidateKind::kMerge, "ties", 0.55)};
  EXPECT_EQ(search::select_returned(c, SelectionSplit::kDev), 0u);
  c[3].dev = 0.65;  // a merge beats every particle on dev: it is returned
  EXPECT_EQ(search::select_returned(c, SelectionSplit::kDev), 3u);
  c[0].dev = -INFINITY;  // failed particles and unscored baselines never win
  c[3].dev = NAN;
  EXPECT_EQ(search::select_returned(c, SelectionSplit::kDev), 2u);
}

TEST(Candidates, WithValidationTheHighestValidationWinsWhateverItsDev) {
  std::vector<Candidate> c = {make(CandidateKind::kSwarm, "rank 1", 0.90, 0.50), make(CandidateKind::kSwarm, "rank 2", 0.85, 0.70),
                              make(CandidateKind::kExpert, "a", 0.60, 0.65)};
  EXPECT_EQ(search::select_returned(c, SelectionSplit::kValidation), 1u);
  c[2].validation = 0.75;
  EXPECT_EQ(search::select_returned(c, SelectionSplit::kValidation), 2u);
}

TEST(Candidates, WarnsWhenTheDevGainOverTheBestExpertDoesNotCarryOver) {
  const std::vector<Candidate> experts = {make(CandidateKind::kExpert, "a", 0.30, 0.28, 0.27),
                                          make(CandidateKind::kExpert, "b", 0.25, 0.30, 0.26)};
  // +0.10 on dev, +0.02 on validation and -0.01 on test: both held-out splits are named.
  const auto shrunk = search::overfitting_warnings(make(CandidateKind::kSwarm, "g", 0.40, 0.32, 0.26), experts);
  ASSERT_EQ(shrunk.size(), 1u);
  EXPECT_NE(shrunk[0].find("validation"), std::string::npos) << shrunk[0];
  EXPECT_NE(shrunk[0].find("test"), std::string::npos) << shrunk[0];
  EXPECT_NE(shrunk[0].find("+0.1"), std::string::npos) << shrunk[0];
  // A gain that holds (at least half of it) gives no warning; nor does no gain, or no held-out split.
  EXPECT_TRUE(search::overfitting_warnings(make(CandidateKind::kSwarm, "g", 0.40, 0.36, 0.33), experts).empty());
  EXPECT_TRUE(search::overfitting_warnings(make(CandidateKind::kSwarm, "g", 0.30, 0.10, 0.10), experts).empty());
  EXPECT_TRUE(search::overfitting_warnings(make(CandidateKind::kSwarm, "g", 0.40), experts).empty());
}

}  // namespace
}  // namespace modelswarm
