// The report and plots of `dualwrite compare`, rendered from hand-written
// results.json files:
//   - tests/data/compare_fixture.json (schema 1): 4 approaches, 2
//     concurrencies, one open-loop series, 3 failure scenarios with n/a cells,
//     an expected loss (offset-naive under clock-skew) and nulls;
//   - tests/data/compare_fixture_v2.json (schema 2): 6 approaches, 3
//     repetitions with ranges, the common rate grid, contention, relay
//     scaling and fixed-rate failure cells of all 7 scenarios.
// The plots are drawn by the real gnuplot.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "compare/plots.h"
#include "compare/report.h"
#include "tests/support/temp_dir.h"

namespace dw::compare {
namespace {

using nlohmann::json;

json Load(const char* path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return json::parse(in);
}

json Fixture() { return Load(DW_COMPARE_FIXTURE); }
json FixtureV2() { return Load(DW_COMPARE_FIXTURE_V2); }

// A committed run, found from the fixture's path:
// <source>/tests/data/compare_fixture.json -> <source>/docs/results/<dir>.
std::string CommittedRunPath(const std::string& dir) {
  std::filesystem::path fixture(DW_COMPARE_FIXTURE);
  return (fixture.parent_path().parent_path().parent_path() / "docs/results" / dir / "results.json")
      .string();
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

// Every one of `parts` occurs in `text`.
void ExpectAll(const std::string& text, std::initializer_list<const char*> parts) {
  for (const char* p : parts) EXPECT_TRUE(Has(text, p)) << p;
}

// The bullets ("- " lines) of a section, in order.
std::vector<std::string> Bullets(const std::string& section) {
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = section.find("\n- ", at)) != std::string::npos) {
    size_t end = section.find('\n', at + 1);
    out.push_back(section.substr(at + 1, end - at - 1));
    at = end;
  }
  return out;
}

// The table row of `first_cell` in a section.
std::string Row(const std::string& section, const std::string& first_cell) {
  size_t at = section.find("\n| " + first_cell + " |");
  if (at == std::string::npos) return "";
  size_t end = section.find('\n', at + 1);
  return section.substr(at + 1, end - at - 1);
}

// ---- Schema 1 (tests/data/compare_fixture.json) ----

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
    EXPECT_FALSE(Row(Section(report_, "### Ranking"), a).empty()) << a;
    EXPECT_FALSE(Row(Section(report_, "#### Concurrency 1"), a).empty()) << a;
    EXPECT_FALSE(Row(Section(report_, "#### Concurrency 16"), a).empty()) << a;
  }
  for (const char* s : {"broker-down", "postgres-restart", "clock-skew"}) {
    EXPECT_FALSE(Row(Section(report_, "### Matrix"), s).empty()) << s;
    EXPECT_TRUE(Has(report_, std::string("### ") + s + ": ")) << s;
  }
}

TEST_F(CompareReportTest, MachineCommandAndRunAreStated) {
  ExpectAll(report_,
            {"Intel(R) Xeon(R) CPU @ 2.20GHz; 2 cores; 7.75 GiB memory", "PostgreSQL 15.18",
             "wal_sync_method=fdatasync", "max_prepared_transactions=100", "broker --fsync always",
             "```sh\ndualwrite compare --quick --out /tmp/cmp --seed 42\n```", "**seed:** 42",
             "4 min 31 s", "2025-01-15T10:00:00Z", "docs/compare-results.md"});
  // One line under the title says what ran where; the details come last.
  EXPECT_TRUE(Has(report_,
                  "# dualwrite compare: 2PC vs the transactional outbox\n\nQuick run of 4 "
                  "approaches on Intel(R) Xeon(R) CPU @ 2.20GHz (2 cores)"));
  EXPECT_GT(report_.find("## About this run"), report_.find("## The seed's three questions"));
}

TEST_F(CompareReportTest, SectionsSchema1LacksSayNotMeasured) {
  const std::string nm = "ot measured in this run (schema dualwrite-compare/1)";
  for (const char* h :
       {"### Common rate grid", "### Contention on hot rows", "### Relay scaling"}) {
    EXPECT_TRUE(Has(Section(report_, h), nm)) << h;
  }
  EXPECT_TRUE(Has(Section(report_, "### Ranking"), "Sustainable rate: n" + nm));
  EXPECT_TRUE(Has(report_, "Delivered throughput: n" + nm));
  EXPECT_TRUE(Has(Section(report_, "### Cost per operation"), "CPU per operation: n" + nm));
  EXPECT_TRUE(Has(Section(report_, "## In short"), "**Highest sustainable rate:** n" + nm));
  // Columns with no data in schema 1 are left out, not filled with "-".
  EXPECT_FALSE(Has(Section(report_, "### Ranking"), "delivered /s"));
  EXPECT_FALSE(Has(Section(report_, "### Cost per operation"), "CPU postgres"));
}

TEST_F(CompareReportTest, LoadTablesFormatNumbersAndNulls) {
  std::string c16 = Section(report_, "#### Concurrency 16");
  // Ratios to the floor are computed: 2504.3 / 6120.5 and 5080.0 / 6120.5.
  EXPECT_TRUE(
      Has(Row(c16, "2pc-pg"), "| 2504 | 0.41x | 6.30 | 14.62 | 6.80 | 15.90 | - | clean |"));
  EXPECT_TRUE(Has(Row(c16, "outbox-skip-locked"), "| 5080 | 0.83x |"));
  EXPECT_TRUE(Has(Row(c16, "floor"), "| 6121 | 1.00x |"));
  // Per-op costs: WAL bytes integer, small ratios with significant digits;
  // offset-naive's wal_syncs_per_op is null in the fixture.
  std::string cost = Section(report_, "### Cost per operation");
  EXPECT_EQ(Row(cost, "outbox-skip-locked"), "| outbox-skip-locked | 931 | 0.35 | 0.013 | 2.00 |");
  EXPECT_EQ(Row(cost, "outbox-offset-naive"), "| outbox-offset-naive | 890 | - | 0.013 | 1.00 |");
  // Version 1's open loop renders as it did.
  std::string open =
      Section(report_, "### Open loop at fractions of each approach's saturation (schema 1)");
  EXPECT_TRUE(Has(open, "| outbox-skip-locked | 4000 | 3620 | 91% | 210.5 | 452.8 | 480.1 |"));
  EXPECT_TRUE(Has(open, "| outbox-skip-locked | 500 | 500 | 99.9% | 0.88 | 1.64 | 3.90 |"));
  EXPECT_TRUE(Has(open, "committed at least 95% of the offered rate up to 2000/s"));
  EXPECT_TRUE(Has(open, "at 4000/s it committed 3620/s (91%)"));
}

TEST_F(CompareReportTest, LoadReadingIsComputedFromTheFigures) {
  std::string r = Section(report_, "### Closed loop");
  EXPECT_TRUE(Has(r, "The floor (the orders insert alone, no message) committed 6121"));
  EXPECT_TRUE(Has(r,
                  "Highest business throughput at concurrency 16: `outbox-skip-locked`, 5080/s "
                  "(0.83x the floor); lowest: `2pc-pg`, 2504/s (0.41x the floor)."));
  // One run per cell: no difference is called real or noise.
  EXPECT_TRUE(Has(r, "`outbox-skip-locked` 5080/s (one run each, noise not judged)"));
  EXPECT_TRUE(
      Has(r, "Lowest end-to-end p99 (operation start to message read): `2pc-pg`, 15.90 ms"));
  EXPECT_TRUE(Has(r, "Verify was clean after all 8 closed-loop cells."));
  for (const auto& b : Bullets(r)) EXPECT_LE(b.size(), 600u) << b;
}

TEST_F(CompareReportTest, ReadingFollowsTheData) {
  // Make 2PC the fastest at concurrency 16: the reading must change with it.
  for (json& c : results_["latency"]) {
    if (c["approach"] == "2pc-pg" && c["concurrency"] == 16) c["throughput_per_s"] = 5900.0;
  }
  std::string md = RenderReport(results_);
  std::string r = Section(md, "### Closed loop");
  EXPECT_TRUE(
      Has(r, "Highest business throughput at concurrency 16: `2pc-pg`, 5900/s (0.96x the floor)"));
  EXPECT_TRUE(Has(r, "lowest: `outbox-offset-naive`, 4951/s (0.81x the floor)"));
  // The ranking (no rate grid in schema 1: by business throughput) follows.
  std::string rank = Section(md, "### Ranking");
  EXPECT_LT(rank.find("| 2pc-pg |"), rank.find("| outbox-skip-locked |"));
}

TEST_F(CompareReportTest, FailureMatrixShowsVerdictsAndReasons) {
  std::string m = Section(report_, "### Matrix");
  EXPECT_EQ(Row(m, "broker-down"),
            "| broker-down | n/a | 0% · clean | 100% · clean | 100% · clean |");
  EXPECT_EQ(Row(m, "clock-skew"), "| clock-skew | n/a | n/a | n/a | 100% · LOST 37 (expected) |");
  std::string bd = Section(report_, "### broker-down: The broker down");
  EXPECT_TRUE(Has(Row(bd, "floor"), "n/a: the floor publishes no message"));
  // attempted / succeeded, p99 before / during, lost, dup before dedupe,
  // orphans, in doubt (age), probe blocked, converge, backlog peak, verdict.
  EXPECT_EQ(Row(bd, "2pc-pg"),
            "| 2pc-pg | 1250 | 0 | 14.62 | 5012 | 0 | 0 | 3 | 2 (0.40) | 12.50 | 1.8 | - | "
            "clean |");
  EXPECT_TRUE(Has(Row(bd, "outbox-skip-locked"), "| 24650 | clean |"));
  std::string pr = Section(report_, "### postgres-restart: Postgres stopped and restarted");
  // probe_blocked_ms is null while Postgres is down.
  EXPECT_TRUE(
      Has(Row(pr, "2pc-pg"), "| 930 | 12 | 14.60 | 2100 | 0 | 0 | 0 | 3 (4.2) | - | 2.6 |"));
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
                  "The slowest convergence after a fault: `outbox-offset-naive` under "
                  "`broker-down`, 3.9 s."));
  EXPECT_TRUE(Has(r, "`2pc-pg` under `broker-down`, 14.62 -> 5012 ms"));
}

TEST_F(CompareReportTest, SeedQuestionsAreAnsweredFromTheMatrix) {
  std::string q = Section(report_, "## The seed's three questions");
  std::string db = Section(q, "### Should the message be sent if the database is unavailable?");
  EXPECT_TRUE(Has(db,
                  "2PC (`2pc-pg`): 12 of the 930 operations attempted during the fault "
                  "succeeded (1%) and 918 failed.\n  - Orphans (messages without a row): 0"));
  EXPECT_TRUE(Has(db, "75 of the 6040 operations"));
  EXPECT_TRUE(Has(db, "No cell produced an orphan"));
  std::string br = Section(q, "### Should the row be saved if the broker is unavailable?");
  EXPECT_TRUE(Has(br, "none of the 1250 operations attempted during the fault succeeded"));
  EXPECT_TRUE(Has(br, "all 49100 operations attempted during the fault succeeded"));
  EXPECT_TRUE(
      Has(br,
          "The unsent backlog peaked at 24650 rows (`outbox-skip-locked`); it was "
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
                  "`outbox-offset-naive`: p99 8.00 -> 8.20 ms (1.02x), did not converge, "
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
  EXPECT_TRUE(Has(md, "## In short"));
  EXPECT_TRUE(Has(md, "No closed-loop load cell was measured"));
  json odd = {
      {"latency", {{{"approach", 7}, {"latency_ms", "fast"}}}},
      {"failures", {{"cells", {{{"scenario", "broker-down"}, {"status", "ran"}}}}}},
      {"machine", nullptr},
      {"rate_grid", {{"cells", {{{"approach", "x"}, {"rate", "fast"}}}}, {"sustainable", 3}}},
      {"contention", {{"cells", {{{"approach", "x"}}}}}}};
  md = RenderReport(odd);
  EXPECT_TRUE(Has(md, "## 2. Failure behaviour"));
  EXPECT_FALSE(Has(md, "could not be rendered"));
  // The v2 fixture with every number turned into a string still renders.
  json v2 = FixtureV2();
  std::function<void(json&)> scramble = [&](json& j) {
    if (j.is_number()) j = "x";
    if (j.is_structured()) {
      for (auto& x : j) scramble(x);
    }
  };
  scramble(v2);
  md = RenderReport(v2);
  EXPECT_TRUE(Has(md, "## 1. Throughput, latency and cost"));
  EXPECT_FALSE(Has(md, "could not be rendered"));
}

// ---- Schema 2 (tests/data/compare_fixture_v2.json) ----

class CompareReportV2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    results_ = FixtureV2();
    report_ = RenderReport(results_);
    summary_ = Section(report_, "## In short");
  }
  json results_;
  std::string report_;
  std::string summary_;
};

TEST_F(CompareReportV2Test, TheAnswerComesFirst) {
  // Title, one line of what ran where, then the summary: the first "## ".
  size_t first = report_.find("\n## ");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(report_.substr(first + 1, 11), "## In short");
  EXPECT_TRUE(Has(report_.substr(0, first), "Full run of 6 approaches on Intel(R) Xeon(R) CPU"));
  auto bullets = Bullets(summary_);
  EXPECT_GE(bullets.size(), 5u);
  EXPECT_LE(bullets.size(), 8u);
  // Each bullet is short enough to read at a glance.
  for (const auto& b : bullets) EXPECT_LE(std::count(b.begin(), b.end(), ' '), 90) << b;
}

TEST_F(CompareReportV2Test, SummaryNamesTheRightApproaches) {
  // Fastest commit at concurrency 1 (p50 0.90 ms), within noise of the other
  // outbox relays; 2PC's fastest is apart from it.
  EXPECT_TRUE(Has(summary_, "**Fastest commit:** `outbox-cdc`, business latency p50 0.90 ms"));
  EXPECT_TRUE(Has(summary_, "(within noise of `outbox-skip-locked` and `outbox-offset-naive`)"));
  EXPECT_TRUE(
      Has(summary_, "Fastest of 2PC: `2pc-lrco`, 2.31 ms (2.57x the latency, ranges apart)"));
  // The highest sustainable rate of the grid, from rate_grid.sustainable.
  EXPECT_TRUE(Has(summary_,
                  "**Highest sustainable rate:** `outbox-cdc`, 4000/s on the common grid (not "
                  "8000/s: committed 81% of the offered; business p99 1710 ms; e2e p99 1804 ms)"));
  EXPECT_TRUE(Has(summary_, "`2pc-pg` 1000/s"));
  // A commit that kept up is not called kept up when delivery did not.
  EXPECT_TRUE(
      Has(summary_,
          "**Committing is not delivering:** At 4000/s `outbox-skip-locked` committed 100% of the "
          "offered operations (business p99 9.10 ms) but did not sustain the rate (e2e p99 "
          "2310 ms; drained 3.1 s after the load)."));
  EXPECT_FALSE(Has(report_, "kept up with"));
  ExpectAll(summary_,
            {// CPU and WAL per operation.
             "**Cost per operation at concurrency 16** (CPU of all parties, WAL): the floor 255 "
             "µs, 399 B; the outbox 373–385 µs, 718–931 B; 2PC 610–750 µs, 1098–1651 B. Cheapest "
             "that sends a message: `outbox-cdc`, 373 µs (within noise of `outbox-offset-naive`)",
             "throughput follows total CPU per operation",
             // Faults per family: availability, losses, in-doubt and blocking, caveats.
             "**2PC under faults (500/s offered):** available during the fault: 0% (broker-down, "
             "partition)",
             "hot-row probe blocked up to 4080 ms (in-doubt-held)",
             "a prepared transaction keeps its row locks",
             "**The outbox under faults (500/s offered):** available during the fault: 100% "
             "(broker-down, broker-slow, process-kill, partition",
             "`outbox-offset-naive` promises no atomicity and loses messages"});
  EXPECT_TRUE(Has(summary_, "**Verdict:** 33 of 34 failure cells clean"));
}

TEST_F(CompareReportV2Test, SummaryFollowsTheData) {
  // 2pc-lrco sustains the whole grid: the answer must name it. The report
  // judges the cells' figures itself, so the cells are what changes.
  json& cells = results_["rate_grid"]["cells"];
  for (json& c : cells) {
    if (c["approach"] == "2pc-lrco" && c["rate"] == 4000) {
      c["achieved_fraction"] = 1.0;
      c["latency_ms"]["p99"] = 12.0;
      c["e2e_ms"]["p99"] = 30.0;
      c["drain_s"] = 0.05;
      c["sustained"] = false;  // the run's own verdict, judged again
      json at_8000 = c;
      at_8000["rate"] = 8000;
      cells.push_back(at_8000);
      break;
    }
  }
  // And a guaranteed approach loses a message: that outranks every figure.
  for (json& c : results_["failures"]["cells"]) {
    if (c["scenario"] == "partition" && c["approach"] == "outbox-cdc") {
      c["verdict"] = "violations";
      c["lost"] = 2;
    }
  }
  std::string s = Section(RenderReport(results_), "## In short");
  EXPECT_TRUE(Has(s,
                  "**Highest sustainable rate:** `2pc-lrco`, 8000/s on the common grid. Then "
                  "`outbox-cdc` 4000/s"));
  auto bullets = Bullets(s);
  ASSERT_FALSE(bullets.empty());
  EXPECT_TRUE(
      bullets.front().starts_with("- **ATOMICITY VIOLATED:** `outbox-cdc` under `partition`"))
      << bullets.front();
}

TEST_F(CompareReportV2Test, RankingIsBySustainableRate) {
  std::string r = Section(report_, "### Ranking");
  EXPECT_EQ(Row(r, "outbox-cdc"),
            "| outbox-cdc | outbox | 4000 | 8000 | 5152 (5044–5260) | 5109 (4981–5238) | 373 "
            "(369–377) | 7/7 clean |");
  // 4000/s before 2000/s before 1000/s; ties by delivered throughput.
  EXPECT_LT(r.find("| outbox-cdc |"), r.find("| outbox-offset-naive |"));
  EXPECT_LT(r.find("| outbox-offset-naive |"), r.find("| outbox-skip-locked |"));
  EXPECT_LT(r.find("| outbox-skip-locked |"), r.find("| 2pc-lrco |"));
  EXPECT_LT(r.find("| 2pc-lrco |"), r.find("| 2pc-pg |"));
}

TEST_F(CompareReportV2Test, ClosedLoopShowsBusinessAndDeliveredWithRanges) {
  std::string c16 = Section(report_, "#### Concurrency 16");
  EXPECT_TRUE(Has(
      c16, "| approach | business /s | delivered /s | vs floor | p50 | p99 | e2e p50 | e2e p99 |"));
  // median (min–max) from `range`; the floor has no delivered throughput.
  EXPECT_EQ(
      Row(c16, "outbox-skip-locked"),
      "| outbox-skip-locked | 5080 (4989–5171) | 4711 (4609–4813) | 0.83x | 3.05 "
      "(3.00–3.10) | 7.77 (7.42–8.12) | 9.12 (8.96–9.28) | 23.40 (22.35–24.45) | 0.47 | clean |");
  EXPECT_TRUE(Has(Row(c16, "floor"), "| floor | 6121 (5998–6243) | - | 1.00x |"));
  std::string r = Section(report_, "### Closed loop");
  EXPECT_TRUE(Has(r, "`outbox-skip-locked` delivered 4711/s against 5080/s acknowledged"));
  // Overlapping ranges are called noise, separate ones apart.
  EXPECT_TRUE(
      Has(r, "`outbox-cdc`, 5152/s (0.84x the floor), within noise of `outbox-skip-locked`"));
  EXPECT_TRUE(Has(r, "the outbox `outbox-cdc` 5152/s (ranges apart)"));
  // How 2PC's coordinator ran (settings.coordinator_batch / _from).
  EXPECT_TRUE(Has(r,
                  "2PC at concurrency 16 and above: one coordinator thread drives 4 orders in "
                  "lockstep (`2pc run --batch 4`)"));
}

TEST_F(CompareReportV2Test, RateGridHasARowPerRate) {
  std::string g = Section(report_, "### Common rate grid");
  for (const char* rate : {"250", "500", "1000", "2000", "4000", "8000"}) {
    EXPECT_FALSE(Row(g, rate).empty()) << rate;
  }
  EXPECT_TRUE(Has(g, "| offered /s | floor p50 / p99 | 2pc-pg p50 / p99 | 2pc-pg e2e p50 / p99 |"));
  // An unsustained cell carries its sustain_failures; a cell not run is "—".
  EXPECT_TRUE(Has(Row(g, "2000"),
                  "| 402.0 / 1391 ✗ (committed 93% of the offered; business p99 1391 ms; e2e "
                  "p99 1452 ms) | 410.0 / 1452 ✗ |"));
  EXPECT_TRUE(Has(Row(g, "4000"), "| 1.35 / 6.80 | — | — |"));
  EXPECT_TRUE(Has(g, "Highest rate sustained: `floor` and `outbox-cdc` 4000/s"));
  EXPECT_TRUE(Has(g, "Delivery, not the commit, was its limit."));
  // Only where the commit kept up: no such bullet names a failed commit
  // condition, nor an approach that sends no message.
  for (const auto& b : Bullets(g)) {
    if (!Has(b, "Delivery, not the commit")) continue;
    std::string why = b.substr(b.find("did not sustain the rate: "));
    EXPECT_FALSE(Has(why, "business p99")) << b;
    EXPECT_FALSE(Has(why, "committed")) << b;
    EXPECT_FALSE(Has(b, "`floor`")) << b;
  }
}

TEST_F(CompareReportV2Test, CostShowsCpuPerParty) {
  std::string c = Section(report_, "### Cost per operation");
  EXPECT_TRUE(Has(c,
                  "| approach | CPU postgres µs | broker µs | load µs | relay µs | total µs | "
                  "WAL B | WAL fsyncs | broker fsyncs | dead tuples |"));
  EXPECT_EQ(
      Row(c, "outbox-skip-locked"),
      "| outbox-skip-locked | 260 | 35 | 50 | 40 | 385 (382–388) | 931 | 0.35 | 0.013 | 2.00 |");
  EXPECT_EQ(Row(c, "floor"), "| floor | 210 | - | 45 | - | 255 (252–258) | 399 | 0.35 | 0 | 0 |");
  // 2 cores: 78% (floor) to 98% (outbox-skip-locked) busy.
  EXPECT_TRUE(Has(c,
                  "Throughput follows total CPU per operation: every party shares the same 2 "
                  "cores, and at concurrency 16 they were 78%–98% busy"));
}

TEST_F(CompareReportV2Test, ContentionAndRelayScaling) {
  std::string c = Section(report_, "### Contention on hot rows");
  EXPECT_TRUE(
      Has(c, "| approach | N=1 /s | N=1 p99 | N=16 /s | N=16 p99 | N=10000 /s | N=10000 p99 |"));
  EXPECT_TRUE(Has(Row(c, "2pc-pg"), "| 2pc-pg | 331 (318–344) | 95.30 (85.77–104.8) |"));
  EXPECT_TRUE(Has(c, "2PC 13%–16%, the outbox 36%, the floor 32%"));
  std::string r = Section(report_, "### Relay scaling");
  EXPECT_EQ(Row(r, "outbox-status"),
            "| outbox-status | 4356 (4251–4460) | 4860 (4743–4977) | 4764 (4649–4878) |");
  EXPECT_TRUE(Has(r, "`outbox-status` delivered 1.12x with 2 (ranges apart), 1.09x with 3"));
  // The deployment of every relay (settings.relays).
  EXPECT_EQ(Row(r, "outbox-cdc"), "| outbox-cdc | cdc | 500 | 1 |");
}

TEST_F(CompareReportV2Test, FailureMatrixShowsAvailabilityAtAFixedRate) {
  std::string f = Section(report_, "## 2. Failure behaviour");
  EXPECT_TRUE(Has(f, "the same fixed rate, 500/s"));
  std::string m = Section(report_, "### Matrix");
  EXPECT_EQ(Row(m, "broker-down"),
            "| broker-down | n/a | 0% · clean | 0% · clean | 100% · clean | 100% · clean | 100% · "
            "clean |");
  EXPECT_TRUE(Has(Row(m, "clock-skew"), "| 100% · LOST 37 (expected) |"));
  std::string p = Section(report_, "### partition: network partition to the broker");
  EXPECT_TRUE(Has(p, "| approach | offered | availability | p99 ok ms | failures p50 / p99 ms |"));
  // A partition's failures time out: they take a second to fail.
  EXPECT_EQ(
      Row(p, "2pc-pg"),
      "| 2pc-pg | 1000 | 0% | - | 1002 / 1011 | 0 | 0 | 0 | 64 (1.0) | 4.10 | 1.4 | - | clean |");
  EXPECT_TRUE(Has(Row(p, "outbox-cdc"), "| outbox-cdc | 1000 | 100% | 2.10 | - |"));
  std::string r = Section(f, "### Reading");
  EXPECT_TRUE(Has(r, "slowest in `2pc-pg` under `partition` (p99 1011 ms)"));
  EXPECT_TRUE(Has(r, "`2pc-pg` under `broker-slow`, 7.10 -> 118.0 ms"));
}

TEST_F(CompareReportV2Test, InDoubtHeldNamesTwoPhaseCommitsOwnTransaction) {
  std::string h = Section(report_, "### in-doubt-held: prepared transaction held");
  ExpectAll(h, {"For 2PC that is its own in-doubt transaction", "`2pc-pg`'s probe waited 4080 ms",
                "their probe waited at most 9.10 ms (`outbox-offset-naive`)",
                "could not remove 2140 dead tuples"});
  // Only the cell whose horizon was held gets a vacuum note.
  EXPECT_FALSE(Has(h, "`outbox-cdc`: a manual VACUUM"));
}

TEST_F(CompareReportV2Test, SeedQuestionsUseOfferedOperations) {
  ExpectAll(Section(report_, "## The seed's three questions"),
            {"none of the 2000 operations offered during the fault succeeded",
             "the outbox saved the row for 100% of the operations offered during the fault",
             "`2pc-pg`: p99 7.10 -> 118.0 ms (16.62x)",
             "`2pc-pg`: no operation arrived during the fault, probe blocked 4080 ms"});
}

TEST_F(CompareReportV2Test, NoProseParagraphIsLong) {
  // Tables and code aside, no line of the report runs past ~100 words.
  size_t at = 0;
  while (at < report_.size()) {
    size_t end = report_.find('\n', at);
    if (end == std::string::npos) end = report_.size();
    std::string line = report_.substr(at, end - at);
    at = end + 1;
    if (line.starts_with("|") || line.starts_with("```")) continue;
    EXPECT_LE(std::count(line.begin(), line.end(), ' '), 100) << line;
  }
}

TEST(CompareReportFullRun, TheCommittedSchema1RunStillRenders) {
  std::string md = RenderReport(Load(CommittedRunPath("full-schema1").c_str()));
  EXPECT_FALSE(Has(md, "could not be rendered"));
  EXPECT_TRUE(Has(md, "## In short"));
  EXPECT_TRUE(Has(md, "### Open loop at fractions of each approach's saturation (schema 1)"));
  EXPECT_TRUE(Has(Section(md, "### Common rate grid"),
                  "Not measured in this run (schema dualwrite-compare/1)"));
  // Its in-doubt-held transaction was compare's own: it is not charged to the
  // outbox's in-doubt figures.
  EXPECT_TRUE(Has(Section(md, "## In short"), "; nothing in doubt;"));
}

// The committed runs' reports are the current renderer's output of their
// results.json, never edited by hand: a renderer change re-renders them
// (`dualwrite compare --from DIR/results.json --out DIR`).
TEST(CompareReportFullRun, TheCommittedReportsAreTheCurrentRendering) {
  for (const char* dir : {"full", "quick", "quick-nats", "quick-rabbitmq", "full-2026-12-07a",
                          "full-2026-12-06b", "full-2026-12-06a", "full-2026-12-05"}) {
    std::string path = CommittedRunPath(dir);
    std::ifstream in(path.substr(0, path.size() - std::string("results.json").size()) +
                     "report.md");
    std::string committed((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(RenderReport(Load(path.c_str())), committed) << dir;
  }
}

// A saga cell with the dirty-read probe's figures (runs since 2026-12-06)
// gets its column and a reading; runs without them render as before.
TEST(CompareReportFullRun, TheSagasDirtyReadsGetAColumnAndAReading) {
  json r = Load(CommittedRunPath("full").c_str());
  const json reads = {{"interval_ms", 10},  {"polls", 500},         {"orders_seen_pending", 321},
                      {"then_placed", 300}, {"then_cancelled", 21}, {"still_pending", 0},
                      {"errors", 0}};
  for (json& c : r["latency"]) {
    if (c["approach"] == "saga") c["dirty_reads"] = reads;
  }
  for (json& c : r["failures"]["cells"]) {
    if (c["approach"] == "saga" && c["scenario"] == "broker-reject") c["dirty_reads"] = reads;
  }
  const std::string md = RenderReport(r);
  const std::string c64 = Section(md, "#### Concurrency 64");
  EXPECT_TRUE(Has(c64, "dirty reads (cancelled)"));
  EXPECT_TRUE(Has(Row(c64, "saga"), "| 321 (21) |"));
  EXPECT_TRUE(Has(md,
                  "A reader polling `saga`'s open sagas every 10 ms read 321 orders while they "
                  "were pending at concurrency 64: 21 were cancelled afterwards (reads of "
                  "orders that never happened)."));
  EXPECT_TRUE(Has(Section(md, "### broker-reject: broker refuses publishes"),
                  "`saga`: a reader polling the open sagas every 10 ms read 321 orders while "
                  "they were pending: 21 were cancelled afterwards"));
  // The run of the morning predates the probe: no figures, no column.
  EXPECT_FALSE(Has(RenderReport(Load(CommittedRunPath("full-2026-12-06a").c_str())),
                   "dirty reads (cancelled)"));
  EXPECT_TRUE(Has(RenderReport(Load(CommittedRunPath("full").c_str())), "dirty reads (cancelled)"));
}

TEST(CompareReportFullRun, TheCommittedFullRunIsSchema2) {
  std::string md = RenderReport(Load(CommittedRunPath("full").c_str()));
  EXPECT_TRUE(Has(md, "Full run of 16 approaches"));
  EXPECT_TRUE(Has(md, "## Order per key"));
  EXPECT_TRUE(Has(md, "## In short"));
  EXPECT_FALSE(Has(Section(md, "### Common rate grid"), "Not measured in this run"));
  EXPECT_TRUE(Has(md, "every approach that promises atomicity kept it"));
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
