// The end-of-search result table from a report.json.
#include "modelswarm/report/summary_table.h"

#include <gtest/gtest.h>

namespace modelswarm {
namespace {
using json = nlohmann::json;

TEST(SummaryTable, BestExpertAverageBaselinesAndSwarmOnEachSplit) {
  const json report = {
      {"experts", {{{"name", "capital-1900"}, {"dev", 0.1}, {"validation", nullptr}, {"test", 0.12}},
                   {{"name", "capital-2000"}, {"dev", 0.345}, {"validation", nullptr}, {"test", 0.63}},
                   {{"name", "currency-2000"}, {"dev", 0.345}, {"validation", nullptr}, {"test", 0.7}}}},
      {"uniform_average", {{"dev", 0.15}, {"validation", nullptr}, {"test", 0.14}, {"in_swarm", true}}},
      {"baselines", {{{"kind", "merge"}, {"name", "ties"}, {"dev", 0.2}, {"validation", nullptr}, {"test", nullptr}}}},
      {"swarm_best", {{"dev", 0.995}, {"particle", 3}, {"validation", nullptr}, {"test", 0.99}}},
      {"best", {{"source", "swarm"}, {"name", "global best (particle 3)"}}}};
  EXPECT_EQ(report::summary_table(report),
            "                              dev   test\n"
            "best expert (capital-2000)  0.345  0.630\n"
            "uniform average             0.150  0.140\n"
            "ties                        0.200      -\n"
            "swarm best                  0.995  0.990\n");
}

TEST(SummaryTable, NamesAReturnedBaselineAndSkipsWhatTheReportLacks) {
  const json report = {{"experts", {{{"name", "a"}, {"dev", 0.5}, {"validation", 0.25}}}},
                       {"swarm_best", {{"dev", 0.4}, {"validation", 0.2}}},
                       {"best", {{"source", "expert"}, {"name", "a"}}}};
  EXPECT_EQ(report::summary_table(report),
            "                   dev  validation\n"
            "best expert (a)  0.500       0.250\n"
            "swarm best       0.400       0.200\n"
            "returned adapter (best/): a (expert)\n");
  EXPECT_EQ(report::summary_table(json::object()), "");
}

}  // namespace
}  // namespace modelswarm
