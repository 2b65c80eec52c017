// The report and plots of `dualwrite compare`, rendered from a hand-written
// results.json (tests/data/compare_fixture.json): 4 approaches, 2
// concurrencies, one open-loop series, 3 failure scenarios with n/a cells, an
// expected loss (offset-naive under clock-skew) and nulls. The plots are
// drawn by the real gnuplot.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "compare/plots.h"
#include "compare/report.h"
#include "tests/support/test_support.h"

namespace dw::compare {
namespace {

using nlohmann::json;

json Fixture() {
  std::ifstream in(DW_COMPARE_FIXTURE);
  EXPECT_TRUE(in.good()) << DW_COMPARE_FIXTURE;
  return json::parse(in);
}

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// The markdown text of the section that starts with `heading`, up to the
// next heading of the same or a higher level.
std::string Section(const std::string& md, const std::string& heading) {
  size_t start = md.find("\n" + heading + "\n");
  if (start == std::string::npos) return "";
  size_t level = heading.find(' ');
  size_t end = start + heading.size() + 2;
  while (true) {
    end = md.find("\n#", end);
    if (end == std::string::npos) break;
    size_t hashes = md.find_first_not_of('#', end + 1) - (end + 1);
    if (hashes <= level && md[end + 1 + hashes] == ' ') break;
    ++end;
  }
  return md.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The table row of `first_cell` in a section.
std::string Row(const std::string& section, const std::string& first_cell) {
  size_t at = section.find("\n| " + first_cell + " |");
  if (at == std::string::npos) return "";
  size_t end = section.find('\n', at + 1);
  return section.substr(at + 1, end - at - 1);
}

class CompareReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    results_ = Fixture();
    report_ = RenderReport(results_);
  }
  json results_;
  std::string report_;
};

TEST_F(CompareReportTest, EveryApproachAndScenarioAppears) {
  for (const char* a : {"floor", "2pc-pg", "outbox-skip-locked", "outbox-offset-naive"}) {
    EXPECT_TRUE(Has(report_, a)) << a;
    EXPECT_FALSE(Row(Section(report_, "## Headline"), a).empty()) << a;
    EXPECT_FALSE(Row(Section(report_, "### Concurrency 1"), a).empty()) << a;
    EXPECT_FALSE(Row(Section(report_, "### Concurrency 16"), a).empty()) << a;
  }
  for (const char* s : {"broker-down", "postgres-restart", "clock-skew"}) {
    EXPECT_FALSE(Row(Section(report_, "### Matrix"), s).empty()) << s;
    EXPECT_TRUE(Has(report_, std::string("### ") + s + ": ")) << s;
  }
}

TEST_F(CompareReportTest, MachineCommandAndRunAreStated) {
  EXPECT_TRUE(Has(report_, "Intel(R) Xeon(R) CPU @ 2.20GHz; 2 cores; 7.75 GiB memory"));
  EXPECT_TRUE(Has(report_, "PostgreSQL 15.18"));
  EXPECT_TRUE(Has(report_, "wal_sync_method=fdatasync"));
  EXPECT_TRUE(Has(report_, "max_prepared_transactions=100"));
  EXPECT_TRUE(Has(report_, "broker --fsync always"));
  EXPECT_TRUE(Has(report_, "```sh\ndualwrite compare --quick --out /tmp/cmp --seed 42\n```"));
  EXPECT_TRUE(Has(report_, "**seed:** 42"));
  EXPECT_TRUE(Has(report_, "4 min 31 s"));
  EXPECT_TRUE(Has(report_, "2025-01-15T10:00:00Z"));
  EXPECT_TRUE(Has(report_, "docs/compare-results.md"));
}

TEST_F(CompareReportTest, HeadlineComesFirstAtTheHighestConcurrency) {
  size_t headline = report_.find("## Headline");
  ASSERT_NE(headline, std::string::npos);
  EXPECT_LT(headline, report_.find("## 1."));
  std::string h = Section(report_, "## Headline");
  EXPECT_TRUE(Has(h, "concurrency 16"));
  // throughput, p50, p99, e2e p50, e2e p99, WAL B/op, failure summary.
  EXPECT_EQ(
      Row(h, "outbox-skip-locked"),
      "| outbox-skip-locked | outbox | 5080 | 3.05 | 7.77 | 9.12 | 23.40 | 931 | 2/2 clean; 1 "
      "n/a |");
  EXPECT_EQ(Row(h, "outbox-offset-naive"),
            "| outbox-offset-naive | outbox | 4951 | 3.10 | 7.95 | 8.40 | 21.70 | 890 | 2/3 clean; "
            "loses messages (clock-skew) |");
  // The floor publishes nothing: its end-to-end latency is null.
  EXPECT_EQ(Row(h, "floor"),
            "| floor | floor | 6121 | 2.55 | 5.87 | - | - | 399 | 1/1 clean; 2 n/a |");
}

TEST_F(CompareReportTest, LoadTablesFormatNumbersAndNulls) {
  std::string c16 = Section(report_, "### Concurrency 16");
  // Ratios to the floor are computed: 2504.3 / 6120.5 and 5080.0 / 6120.5.
  EXPECT_TRUE(Has(Row(c16, "2pc-pg"), "| 2504 | 0.41x | 6.30 | 9.10 | 14.62 | 40.50 | 88.00 |"));
  EXPECT_TRUE(Has(Row(c16, "outbox-skip-locked"), "| 5080 | 0.83x |"));
  EXPECT_TRUE(Has(Row(c16, "floor"), "| 6121 | 1.00x |"));
  // Per-op costs: WAL bytes integer, small ratios with significant digits.
  EXPECT_TRUE(Has(Row(c16, "outbox-skip-locked"), "| 931 | 0.35 | 2.00 | 0.013 | clean |"));
  // offset-naive's wal_syncs_per_op is null in the fixture.
  EXPECT_TRUE(Has(Row(c16, "outbox-offset-naive"), "| 890 | - | 1.00 | 0.013 | clean |"));
  std::string open = Section(report_, "### Open loop");
  EXPECT_TRUE(Has(open, "| outbox-skip-locked | 4000 | 3620 | 91% | 210.5 | 452.8 | 480.1 |"));
  EXPECT_TRUE(Has(open, "| outbox-skip-locked | 500 | 500 | 100% | 0.88 | 1.64 | 3.90 |"));
}

TEST_F(CompareReportTest, LoadReadingIsComputedFromTheFigures) {
  std::string r = Section(Section(report_, "## 1. Latency, throughput and cost"), "### Reading");
  ASSERT_FALSE(r.empty());
  EXPECT_TRUE(Has(r, "the floor (the orders insert alone, no message) committed 6121"));
  EXPECT_TRUE(Has(r,
                  "The cheapest approach after the floor was `outbox-skip-locked` at 5080/s "
                  "(0.83x the floor)"));
  EXPECT_TRUE(Has(r, "the most expensive was `2pc-pg` at 2504/s (0.41x the floor)"));
  EXPECT_TRUE(Has(r,
                  "The lowest end-to-end p99 (operation start to message read) was `2pc-pg` "
                  "(15.90 ms)"));
  EXPECT_TRUE(Has(r, "kept up with offered rates up to 2000/s"));
  EXPECT_TRUE(Has(r, "at 4000/s it achieved 3620/s (91%)"));
  EXPECT_TRUE(Has(r, "Verify was clean after all 8 closed-loop cells."));
}

TEST_F(CompareReportTest, ReadingFollowsTheData) {
  // Make 2PC the fastest at concurrency 16: the reading must change with it.
  for (json& c : results_["latency"]) {
    if (c["approach"] == "2pc-pg" && c["concurrency"] == 16) c["throughput_per_s"] = 5900.0;
  }
  std::string r =
      Section(Section(RenderReport(results_), "## 1. Latency, throughput and cost"), "### Reading");
  EXPECT_TRUE(Has(r,
                  "The cheapest approach after the floor was `2pc-pg` at 5900/s (0.96x the "
                  "floor)"));
  EXPECT_TRUE(Has(r, "the most expensive was `outbox-offset-naive` at 4951/s (0.81x the floor)"));
}

TEST_F(CompareReportTest, FailureMatrixShowsVerdictsAndReasons) {
  std::string m = Section(report_, "### Matrix");
  EXPECT_EQ(Row(m, "broker-down"), "| broker-down | n/a | clean | clean | clean |");
  EXPECT_EQ(Row(m, "clock-skew"), "| clock-skew | n/a | n/a | n/a | LOST 37 (expected) |");
  std::string bd = Section(report_, "### broker-down: The broker down");
  EXPECT_TRUE(Has(Row(bd, "floor"), "n/a: the floor publishes no message"));
  // attempted / succeeded / failed, lost, dup before dedupe, orphans, in doubt (age),
  // probe blocked, converge, p99 before / during, backlog peak, verdict.
  EXPECT_EQ(Row(bd, "2pc-pg"),
            "| 2pc-pg | 1250 | 0 | 1250 | 0 | 3 | 0 | 2 (0.40) | 12.50 | 1.8 | 14.62 | 5012 | - | "
            "clean |");
  EXPECT_TRUE(Has(Row(bd, "outbox-skip-locked"), "| 24650 | clean |"));
  std::string pr = Section(report_, "### postgres-restart: Postgres stopped and restarted");
  // probe_blocked_ms is null while Postgres is down.
  EXPECT_TRUE(Has(Row(pr, "2pc-pg"), "| 930 | 12 | 918 | 0 | 0 | 0 | 3 (4.2) | - | 2.6 |"));
  std::string cs = Section(report_, "### clock-skew: Relay clock skew");
  EXPECT_TRUE(Has(Row(cs, "outbox-offset-naive"), "| 37 |"));
  EXPECT_TRUE(Has(Row(cs, "outbox-offset-naive"), "expected loss: lost 37 |"));
  EXPECT_TRUE(Has(cs, "relay clock set 4 s behind"));
}

TEST_F(CompareReportTest, FailureReadingIsComputedFromTheMatrix) {
  std::string r = Section(Section(report_, "## 2. Failure behaviour"), "### Reading");
  ASSERT_FALSE(r.empty());
  EXPECT_TRUE(Has(r,
                  "Of 12 cells, 8 ran: 7 clean, 1 with an expected loss, 0 with violations; "
                  "4 did not apply."));
  EXPECT_TRUE(Has(r, "`outbox-offset-naive` under `clock-skew` lost 37 messages"));
  EXPECT_TRUE(Has(r,
                  "The oldest in-doubt transaction was 4.2 s old (`2pc-pg` under "
                  "`postgres-restart`"));
  EXPECT_TRUE(Has(r,
                  "The slowest convergence after a fault was `outbox-offset-naive` under "
                  "`broker-down`: 3.9 s."));
  EXPECT_TRUE(Has(r, "`2pc-pg` under `broker-down`: 14.62 -> 5012 ms"));
}

TEST_F(CompareReportTest, SeedQuestionsAreAnsweredFromTheMatrix) {
  std::string q = Section(report_, "## The seed's three questions");
  std::string db = Section(q, "### Should the message be sent if the database is unavailable?");
  EXPECT_TRUE(Has(db,
                  "2PC (`2pc-pg`): 12 of the 930 operations attempted during the fault "
                  "succeeded (1%) and 918 failed; messages without a row (orphans): 0"));
  EXPECT_TRUE(Has(db, "75 of the 6040 operations"));
  EXPECT_TRUE(Has(db, "No cell produced an orphan"));
  std::string br = Section(q, "### Should the row be saved if the broker is unavailable?");
  EXPECT_TRUE(Has(br, "none of the 1250 operations attempted during the fault succeeded"));
  EXPECT_TRUE(Has(br, "all 49100 operations attempted during the fault succeeded"));
  EXPECT_TRUE(
      Has(br,
          "the unsent backlog peaked at 24650 rows (`outbox-skip-locked`); it was "
          "empty again 2.5 s after the fault ended for `outbox-skip-locked`; not yet empty"));
  // offset-naive's backlog had not drained by its last sample.
  EXPECT_TRUE(Has(br,
                  "not yet empty at the last sample: `outbox-offset-naive` (4016 rows 2.5 s "
                  "after the fault ended)"));
  EXPECT_TRUE(Has(br, "`partition` was not part of this run."));
  std::string d = Section(q, "### How should delays be handled?");
  EXPECT_TRUE(Has(d, "`broker-slow` was not part of this run."));
  EXPECT_TRUE(Has(d, "`in-doubt-held` was not part of this run."));
  EXPECT_TRUE(Has(d,
                  "`outbox-offset-naive` p99 8.00 -> 8.20 ms (1.02x), did not converge, "
                  "LOST 37"));
  EXPECT_TRUE(Has(d, "`outbox-offset-naive` lost 37 under `clock-skew` (expected)"));
}

TEST_F(CompareReportTest, PlotsAreLinkedAndErrorsListed) {
  for (const auto& p : PlannedPlots(results_)) {
    EXPECT_TRUE(Has(report_, "(plots/" + p.name + ".svg)")) << p.name;
  }
  EXPECT_TRUE(Has(report_, "## Errors during the run"));
  EXPECT_TRUE(Has(report_, "saturated at 4000/s"));
}

TEST(CompareReportRobustness, PartialOrMalformedResultsStillRender) {
  std::string md = RenderReport(json::object());
  EXPECT_TRUE(Has(md, "## Headline"));
  EXPECT_TRUE(Has(md, "No closed-loop load cell was measured"));
  json odd = {{"latency", {{{"approach", 7}, {"latency_ms", "fast"}}}},
              {"failures", {{"cells", {{{"scenario", "broker-down"}, {"status", "ran"}}}}}},
              {"machine", nullptr}};
  md = RenderReport(odd);
  EXPECT_TRUE(Has(md, "## 2. Failure behaviour"));
  EXPECT_FALSE(Has(md, "could not be rendered"));
}

TEST(CompareReportPlots, WritesSvgAndPngForEveryPlannedPlot) {
  json results = Fixture();
  std::string dir = testing::TempDir("compare-plots");
  std::vector<std::string> written;
  Status s = WritePlots(results, dir, &written);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto planned = PlannedPlots(results);
  std::vector<std::string> names;
  for (const auto& p : planned) names.push_back(p.name);
  for (const char* expected :
       {"latency-cdf", "e2e-cdf", "throughput", "open-loop-latency", "failure-broker-down",
        "failure-postgres-restart", "failure-clock-skew", "backlog-broker-down"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  for (const auto& name : names) {
    for (const char* ext : {".dat", ".gp", ".svg", ".png"}) {
      std::string path = dir + "/plots/" + name + ext;
      EXPECT_NE(std::find(written.begin(), written.end(), path), written.end()) << path;
      std::error_code ec;
      EXPECT_GT(std::filesystem::file_size(path, ec), 0u) << path;
      EXPECT_FALSE(ec) << path;
    }
  }
  // A PNG, and an SVG naming the approaches in its legend.
  std::ifstream png(dir + "/plots/latency-cdf.png", std::ios::binary);
  char magic[4] = {};
  png.read(magic, 4);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  std::ifstream svg(dir + "/plots/throughput.svg");
  std::string text((std::istreambuf_iterator<char>(svg)), {});
  EXPECT_TRUE(Has(text, "<svg"));
  EXPECT_TRUE(Has(text, "outbox-offset-naive"));
  // The backlog plot holds only the outbox approaches.
  std::ifstream dat(dir + "/plots/backlog-broker-down.dat");
  std::string d((std::istreambuf_iterator<char>(dat)), {});
  EXPECT_TRUE(Has(d, "outbox-skip-locked"));
  EXPECT_FALSE(Has(d, "2pc-pg"));
}

TEST(CompareReportPlots, QuotesNamesSafelyInScripts) {
  json results = Fixture();
  results["approaches"][1]["name"] = "it's-2pc";
  for (json& c : results["latency"]) {
    if (c["approach"] == "2pc-pg") c["approach"] = "it's-2pc";
  }
  std::string dir = testing::TempDir("compare-plots-quote");
  std::vector<std::string> written;
  Status s = WritePlots(results, dir, &written);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::ifstream gp(dir + "/plots/throughput.gp");
  std::string text((std::istreambuf_iterator<char>(gp)), {});
  EXPECT_TRUE(Has(text, "title 'it''s-2pc'"));
}

TEST(CompareReportPlots, MissingGnuplotIsAClearError) {
  const char* old = std::getenv("PATH");
  std::string saved = old ? old : "";
  std::string empty = testing::TempDir("compare-nopath");
  setenv("PATH", empty.c_str(), 1);
  std::string dir = testing::TempDir("compare-plots-nognuplot");
  std::vector<std::string> written;
  Status s = WritePlots(Fixture(), dir, &written);
  setenv("PATH", saved.c_str(), 1);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  EXPECT_TRUE(Has(s.message(), "gnuplot")) << s.ToString();
  // The data and scripts are still there for a machine that has gnuplot.
  EXPECT_FALSE(written.empty());
  for (const auto& f : written) EXPECT_TRUE(f.ends_with(".dat") || f.ends_with(".gp")) << f;
}

}  // namespace
}  // namespace dw::compare
