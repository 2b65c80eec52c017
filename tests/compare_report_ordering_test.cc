// The report's "Order per key" section (compare/report_ordering.cc), from
// the schema-2 fixture with and without an `order_per_key` object: absent
// in results.json means absent in the report, so older runs render as before.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "compare/report.h"

namespace dw::compare {
namespace {

using nlohmann::json;

json FixtureV2() {
  std::ifstream in(DW_COMPARE_FIXTURE_V2);
  EXPECT_TRUE(in.good());
  return json::parse(in);
}

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

json Cell(const std::string& approach, int k, bool partitioned, const json& fault,
          int64_t reordered, double rate) {
  const bool two_pc = approach.starts_with("2pc");
  json c = {{"approach", approach},
            {"family", two_pc ? "2pc" : "outbox"},
            {"instances", two_pc ? json(nullptr) : json(k)},
            {"partitioned", partitioned},
            {"fault", fault},
            {"orders", 300},
            {"events_per_order", 3},
            {"status", "ran"},
            {"reason", nullptr},
            {"events_written", 900},
            {"events_read", 900},
            {"keys", 300},
            {"keys_reordered", reordered},
            {"first_inversion", nullptr},
            {"gaps", 0},
            {"ahead", 0},
            {"duplicates", 0},
            {"lost", 0},
            {"drain_s", 0.1},
            {"drain_rate_per_s", rate},
            {"command", "dualwrite " + approach + " --events-per-order 3"}};
  if (reordered > 0) {
    c["first_inversion"] = {
        {"order", 42}, {"later_version", 3}, {"later_offset", 17}, {"version", 2}, {"offset", 20}};
  }
  return c;
}

json WithOrderPerKey() {
  json r = FixtureV2();
  json cells = json::array();
  cells.push_back(Cell("2pc-pg", 1, false, nullptr, 0, 1500));
  cells.push_back(Cell("outbox-skip-locked", 3, false, nullptr, 5, 10000));
  cells.push_back(Cell("outbox-skip-locked", 3, true, nullptr, 0, 8500));
  cells.push_back(Cell("outbox-skip-locked", 3, true, "relay-kill", 0, 4000));
  json broken = Cell("outbox-skip-locked", 3, true, "broker-down", 0, 0);
  broken["status"] = "error";
  broken["reason"] = "the load command did not finish";
  cells.push_back(broken);
  r["order_per_key"] = {
      {"orders", 300}, {"events_per_order", 3}, {"writers", 4}, {"fault_s", 1}, {"cells", cells}};
  return r;
}

TEST(CompareReportOrdering, ARunWithoutTheSectionRendersNone) {
  const std::string md = RenderReport(FixtureV2());
  EXPECT_FALSE(Has(md, "Order per key"));
  // An empty or mistyped section is no section either.
  json r = FixtureV2();
  r["order_per_key"] = {{"cells", json::array()}};
  EXPECT_EQ(RenderReport(r), md);
  r["order_per_key"] = "x";
  EXPECT_EQ(RenderReport(r), md);
}

TEST(CompareReportOrdering, EveryCellIsARowAndTheRatioIsComputed) {
  const std::string md = RenderReport(WithOrderPerKey());
  ASSERT_TRUE(Has(md, "\n## Order per key\n"));
  // After the failure matrix, before the seed's questions.
  EXPECT_LT(md.find("## 2. Failure behaviour"), md.find("## Order per key"));
  EXPECT_TRUE(Has(md, "Each order gets 3 events"));
  EXPECT_TRUE(Has(md, "300 orders from 4 writers per cell"));
  EXPECT_TRUE(Has(md, "| `2pc-pg` | - (no relay) | healthy | 900 | 900 | 0 | 0 | 0 | 1500 |"))
      << md;
  EXPECT_TRUE(Has(md, "| `outbox-skip-locked` | K=3 | healthy | 900 | 900 | 5 | 0 | 0 | 10000 |"));
  EXPECT_TRUE(Has(md, "| `outbox-skip-locked` | K=3, `--partition-by key` | relay-kill |"));
  EXPECT_TRUE(Has(md, "the partitioned drain is 0.85x the unpartitioned one's (8500 vs 10000"));
  EXPECT_TRUE(Has(md, "order 42: v3 at offset 17 before v2 at offset 20"));
  EXPECT_TRUE(Has(md, "broker-down: error (the load command did not finish)"));
  // Healthy cells' commands only.
  EXPECT_TRUE(Has(md, "dualwrite outbox-skip-locked --events-per-order 3\n"));
}

TEST(CompareReportOrdering, NoProseLineIsLong) {
  const std::string md = RenderReport(WithOrderPerKey());
  size_t at = md.find("## Order per key");
  ASSERT_NE(at, std::string::npos);
  const size_t end = md.find("\n## ", at + 1);
  while (at < end) {
    size_t eol = md.find('\n', at);
    std::string line = md.substr(at, eol - at);
    at = eol + 1;
    if (line.starts_with("|") || line.starts_with("```")) continue;
    EXPECT_LE(std::count(line.begin(), line.end(), ' '), 100) << line;
  }
}

}  // namespace
}  // namespace dw::compare
