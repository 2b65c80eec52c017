// Repeated load cells: medians per figure with their min-max, the
// distributions of the median run, and a rate sustained only if every run
// sustained it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "compare/cells.h"

namespace dw::compare {
namespace {

using json = nlohmann::json;

json Cell(double tput, double p99, bool sustained, const char* cdf_tag) {
  return {{"approach", "2pc-pg"},
          {"error", nullptr},
          {"throughput_per_s", tput},
          {"delivered_per_s", tput - 1},
          {"latency_ms", {{"p50", p99 / 10}, {"p99", p99}}},
          {"e2e_ms", nullptr},
          {"cpu_us_per_op", {{"total", 1000.0 / tput}}},
          {"cdf", cdf_tag},
          {"sustained", sustained},
          {"sustain_failures", sustained ? json::array() : json::array({"e2e p99 300 ms"})}};
}

TEST(CompareMerge, MediansWithMinMaxAndTheMedianRunsDistribution) {
  json m =
      MergeRepetitions({Cell(100, 9, true, "a"), Cell(300, 3, true, "c"), Cell(200, 5, true, "b")});
  EXPECT_EQ(m["repetitions"], 3);
  EXPECT_EQ(m["throughput_per_s"], 200.0);
  EXPECT_EQ(m["range"]["throughput_per_s"], json::array({100.0, 300.0}));
  EXPECT_EQ(m["latency_ms"]["p99"], 5.0);  // the median of 9, 3, 5 (each figure on its own)
  EXPECT_EQ(m["range"]["latency_p99_ms"], json::array({3.0, 9.0}));
  EXPECT_EQ(m["range"]["delivered_per_s"], json::array({99.0, 299.0}));
  EXPECT_TRUE(m["range"]["e2e_p99_ms"].is_null());  // no run had it
  EXPECT_EQ(m["cdf"], "b");                         // the run with the median business throughput
  EXPECT_TRUE(m["sustained"].get<bool>());
}

TEST(CompareMerge, SustainedOnlyWhenEveryRunWas) {
  json m = MergeRepetitions({Cell(100, 9, true, "a"), Cell(110, 9, false, "b")});
  EXPECT_FALSE(m["sustained"].get<bool>());
  EXPECT_EQ(m["sustain_failures"], json::array({"e2e p99 300 ms"}));
}

TEST(CompareMerge, FailedRunsAreLeftOutAndOneRunHasNoRange) {
  json failed = Cell(5000, 1, true, "x");
  failed["error"] = "the load command did not finish";
  json m = MergeRepetitions({failed, Cell(100, 9, true, "a")});
  EXPECT_EQ(m["repetitions"], 1);
  EXPECT_EQ(m["throughput_per_s"], 100.0);
  EXPECT_FALSE(m.contains("range") && !m["range"].is_null());
}

}  // namespace
}  // namespace dw::compare
