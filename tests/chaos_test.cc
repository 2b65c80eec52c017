// `dualwrite chaos` in the size CI runs: a few seeded runs of real faults
// (its own throwaway cluster, a broker per run), every one judged by verify
// and the history checker; and a run reproduced alone from (seed, run).
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/process.h"
#include "tests/support/test_support.h"

namespace dw {
namespace {

using json = nlohmann::json;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return in ? json::parse(in, nullptr, false) : json();
}

TEST(Chaos, SeededCampaignFindsNoViolationAndReproducesARun) {
  const std::string out = testing::TempDir("chaos");
  std::string log;
  Status s = RunCommand(
      {testing::DualwriteBinary(), "chaos", "--runs", "5", "--seed", "11", "--out", out}, &log);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << log;
  json r = ReadJson(out + "/chaos.json");
  ASSERT_TRUE(r.is_object()) << log;
  ASSERT_EQ(r["runs"].size(), 5u);
  for (const auto& run : r["runs"]) {
    const std::string v = run["verdict"];
    EXPECT_TRUE(v == "clean" || (v == "expected-loss" && run["approach"] == "outbox-offset-naive"))
        << run["drawn"] << ": " << v << "\n"
        << run["cell"].dump();
    if (run["cell"]["status"] == "ran") {
      EXPECT_TRUE(run["cell"]["history"]["ok"].get<bool>() ||
                  run["approach"] == "outbox-offset-naive")
          << run["cell"]["history"];
      EXPECT_EQ(run["cell"]["in_doubt_at_end"], 0) << run["drawn"];
      EXPECT_GT(run["cell"]["history"]["acknowledged"].get<uint64_t>(), 0u) << run["drawn"];
    }
  }
  EXPECT_NE(log.find("5 runs, 0 violation(s)"), std::string::npos) << log;

  // Run 3 alone draws exactly what it drew inside the campaign.
  const std::string again = testing::TempDir("chaos-run");
  s = RunCommand(
      {testing::DualwriteBinary(), "chaos", "--seed", "11", "--run", "3", "--out", again}, &log);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << log;
  json one = ReadJson(again + "/chaos.json");
  ASSERT_EQ(one["runs"].size(), 1u);
  EXPECT_EQ(one["runs"][0]["drawn"], r["runs"][3]["drawn"]);
}

TEST(Chaos, BadFlagsAreOneLineErrors) {
  std::string out;
  Status s = RunCommand({testing::DualwriteBinary(), "chaos", "--approach", "floor"}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(out.find("the floor sends nothing to break"), std::string::npos) << out;
  s = RunCommand({testing::DualwriteBinary(), "--broker", "http://127.0.0.1:1", "chaos"}, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(out.find("--broker is not supported"), std::string::npos) << out;
}

}  // namespace
}  // namespace dw
