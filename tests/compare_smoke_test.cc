// `dualwrite compare --smoke`: the whole main job end to end, small. It
// brings up its own throwaway cluster and a broker per cell, runs every
// approach, the open-loop series and the failure matrix, and writes the
// report, the JSON and the plots. Asserted: every cell is present, verify is
// clean wherever the approach guarantees it, offset-naive's loss shows up
// under clock skew, and `--from` re-renders without running anything.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/process.h"
#include "tests/support/test_support.h"

namespace dw {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string g_out;
json g_results;
std::string g_output;
Status g_status;

// ctest runs each TEST in a process of its own: one test, so that the
// (minutes-long) run happens once; the parts below are its checks.
void RunOnce() {
  if (!g_out.empty()) return;
  g_out = testing::TempDir("compare-smoke");
  g_status = RunCommand(
      {testing::DualwriteBinary(), "compare", "--quick", "--smoke", "--out", g_out, "--seed", "7"},
      &g_output);
  std::ifstream in(g_out + "/results.json");
  if (in) g_results = json::parse(in, nullptr, false);
}

void RunsAndWritesEveryOutput() {
  ASSERT_TRUE(g_status.ok()) << g_status.ToString() << "\n" << g_output;
  ASSERT_TRUE(g_results.is_object()) << g_output;
  EXPECT_EQ(g_results["schema"], "dualwrite-compare/2");
  EXPECT_EQ(g_results["size"], "smoke");
  EXPECT_TRUE(fs::file_size(g_out + "/report.md") > 1000);
  for (const char* plot : {"latency-cdf", "e2e-cdf", "throughput", "rate-grid-latency",
                           "failure-broker-down", "backlog-broker-down"}) {
    bool svg = false, png = false;
    for (const auto& e : fs::directory_iterator(g_out + "/plots")) {
      const std::string n = e.path().filename().string();
      if (n.rfind(plot, 0) == 0 && e.path().extension() == ".svg") svg = fs::file_size(e) > 0;
      if (n.rfind(plot, 0) == 0 && e.path().extension() == ".png") png = fs::file_size(e) > 0;
    }
    EXPECT_TRUE(svg && png) << plot;
  }
  // The machine line and the command are in the report.
  std::ifstream r(g_out + "/report.md");
  std::string report((std::istreambuf_iterator<char>(r)), {});
  EXPECT_NE(report.find("dualwrite compare --quick --smoke"), std::string::npos);
  EXPECT_NE(report.find("PostgreSQL 15"), std::string::npos);
}

void EveryApproachHasMeasuredLatencyCells() {
  ASSERT_TRUE(g_results.is_object());
  std::set<std::string> seen;
  for (const auto& c : g_results["latency"]) {
    const std::string a = c["approach"];
    seen.insert(a);
    EXPECT_TRUE(c["error"].is_null()) << a << ": " << c["error"];
    ASSERT_TRUE(c["committed"].is_number()) << a;
    EXPECT_GT(c["committed"].get<int64_t>(), 0) << a;
    // A cell with no sample after its warm-up (a stalled machine) has null
    // figures: said here in one line rather than thrown by a lookup below.
    for (const char* k : {"latency_ms", "cost", "cpu_us_per_op", "verify"}) {
      ASSERT_TRUE(c[k].is_object()) << a << ": no " << k << ", committed " << c["committed"];
    }
    if (a != "floor") {
      ASSERT_TRUE(c["e2e_ms"].is_object()) << a << ": no e2e_ms, committed " << c["committed"];
    }
    EXPECT_TRUE(c["latency_ms"]["p99"].is_number()) << a;
    EXPECT_TRUE(c["cost"]["wal_bytes_per_op"].is_number()) << a;
    // CPU per operation of every party that ran, from /proc.
    EXPECT_GT(c["cpu_us_per_op"]["total"].get<double>(), 0) << a << c["cpu_us_per_op"];
    EXPECT_GT(c["cpu_us_per_op"]["postgres"].get<double>(), 0) << a;
    EXPECT_GT(c["cpu_us_per_op"]["load"].get<double>(), 0) << a;
    if (a == "3pc") {
      // Its two participant agents are a party of their own.
      ASSERT_TRUE(c["cpu_us_per_op"]["agents"].is_number()) << c["cpu_us_per_op"];
      EXPECT_GT(c["cpu_us_per_op"]["agents"].get<double>(), 0);
    } else {
      EXPECT_TRUE(c["cpu_us_per_op"]["agents"].is_null()) << a;
    }
    if (a != "floor") {
      EXPECT_TRUE(c["e2e_ms"]["p50"].is_number()) << a;
      EXPECT_TRUE(c["cost"]["broker_fsyncs_per_op"].is_number()) << a;
      EXPECT_GT(c["cpu_us_per_op"]["broker"].get<double>(), 0) << a;
      // Delivered: rows with their message, over the time until the last was readable.
      ASSERT_TRUE(c["delivered_per_s"].is_number()) << a;
      EXPECT_GT(c["delivered_per_s"].get<double>(), 0) << a;
      EXPECT_GE(c["last_delivery_s"].get<double>(), 0.5) << a;
      if (a != "outbox-offset-naive") {
        EXPECT_EQ(c["delivered"], c["committed"]) << a;
      }
    }
    if (a.rfind("outbox-", 0) == 0 || a == "event-sourced") {
      EXPECT_GT(c["cpu_us_per_op"]["relay"].get<double>(), 0) << a;
      EXPECT_EQ(c["batch"], 1000) << a;
    }
    // The family figures: the saga's pending age, the projector's lag.
    EXPECT_EQ(c["pending_age_ms"].is_object(), a == "saga") << a << c["pending_age_ms"];
    EXPECT_EQ(c["projection_lag_ms"].is_object(), a == "event-sourced")
        << a << c["projection_lag_ms"];
    // Every approach that guarantees atomicity is clean after a healthy run.
    if (a != "outbox-offset-naive") {
      EXPECT_TRUE(c["verify"]["ok"].get<bool>()) << a << c["verify"];
    }
  }
  EXPECT_EQ(seen.size(), 14u);
}

// The rate grid runs every grid approach at the same rates, from the lowest,
// until one is not sustained; contention and relay scaling have their cells.
void RateGridContentionAndScaling() {
  ASSERT_TRUE(g_results.is_object());
  const auto& grid = g_results["rate_grid"];
  const auto rates = grid["rates"];
  ASSERT_FALSE(rates.empty());
  for (const auto& [name, s] : grid["sustainable"].items()) {
    std::vector<double> ran;
    json best = nullptr, first_bad = nullptr;
    for (const auto& c : grid["cells"]) {
      if (c["approach"] != name) continue;
      ran.push_back(c["rate"].get<double>());
      EXPECT_TRUE(first_bad.is_null()) << name << ": ran on after an unsustained rate";
      (c["sustained"] == true ? best : first_bad) = c["rate"];
      EXPECT_EQ(c["mode"], "open");
      ASSERT_TRUE(c["sustained"].is_boolean()) << name;
      EXPECT_EQ(c["sustained"].get<bool>(), c["sustain_failures"].empty()) << name;
    }
    ASSERT_FALSE(ran.empty()) << name;
    for (size_t i = 0; i < ran.size(); ++i) EXPECT_EQ(ran[i], rates[i].get<double>()) << name;
    EXPECT_EQ(s["rate_per_s"], best) << name;
    EXPECT_EQ(s["first_unsustained_per_s"], first_bad) << name;
  }
  const auto& contention = g_results["contention"];
  ASSERT_FALSE(contention["cells"].empty());
  for (const auto& c : contention["cells"]) {
    EXPECT_TRUE(c["error"].is_null()) << c["approach"] << ": " << c["error"];
    EXPECT_GT(c["hot_rows"].get<int>(), 0);
    EXPECT_GT(c["committed"].get<uint64_t>(), 0u) << c["approach"];
  }
  std::set<int> instances;
  for (const auto& c : g_results["relay_scaling"]["cells"]) {
    EXPECT_TRUE(c["error"].is_null()) << c["error"];
    instances.insert(c["instances"].get<int>());
    EXPECT_GT(c["delivered_per_s"].get<double>(), 0);
  }
  EXPECT_EQ(instances, (std::set<int>{1, 2}));
}

void FailureMatrixIsCompleteAndCleanWhereGuaranteed() {
  ASSERT_TRUE(g_results.is_object());
  const auto& scenarios = g_results["failures"]["scenarios"];
  const auto& cells = g_results["failures"]["cells"];
  EXPECT_EQ(scenarios.size(), 7u);
  std::set<std::pair<std::string, std::string>> present;
  for (const auto& c : cells) {
    present.insert({c["scenario"].get<std::string>(), c["approach"].get<std::string>()});
  }
  std::set<std::string> approaches;
  for (const auto& c : cells) approaches.insert(c["approach"].get<std::string>());
  EXPECT_EQ(present.size(), scenarios.size() * approaches.size()) << "a cell is missing";
  for (const auto& c : cells) {
    const std::string id =
        c["scenario"].get<std::string>() + " x " + c["approach"].get<std::string>();
    EXPECT_NE(c["status"], "error") << id << ": " << c["reason"];
    if (c["status"] != "ran") continue;
    EXPECT_NE(c["verdict"], "violations") << id << ": " << c["verify"];
    EXPECT_TRUE(c["ops_total"]["attempted"].get<uint64_t>() > 0) << id;
    EXPECT_FALSE(c["timeline"].empty()) << id;
    // Every cell runs at the same arrival rate; availability is over what was offered.
    EXPECT_EQ(c["offered_rate_per_s"], g_results["settings"]["failure_rate_per_s"]) << id;
    const double availability = c["ops"]["availability"].get<double>();
    EXPECT_GE(availability, 0.0) << id;
    EXPECT_LE(availability, 1.0) << id;
    if (c["guaranteed"].get<bool>()) {
      EXPECT_EQ(c["verdict"], "clean") << id;
      EXPECT_EQ(c["in_doubt_at_end"], 0) << id;
    }
  }
}

void OffsetNaiveLosesUnderClockSkewAndTheHeldTransactionBlocks() {
  ASSERT_TRUE(g_results.is_object());
  bool skew = false, held = false;
  double outbox_probe_ms = -1;
  for (const auto& c : g_results["failures"]["cells"]) {
    if (c["scenario"] == "in-doubt-held" && c["approach"] == "outbox-skip-locked") {
      outbox_probe_ms = c["probe_blocked_ms"].get<double>();
    }
    if (c["scenario"] == "clock-skew" && c["approach"] == "outbox-offset-naive") {
      skew = true;
      EXPECT_EQ(c["verdict"], "expected-loss");
      EXPECT_GT(c["lost"].get<uint64_t>(), 0u) << "the skewed clock should make it skip rows";
    }
    if (c["scenario"] == "in-doubt-held" && c["approach"] == "2pc-pg") {
      held = true;
      // The probe waited behind 2PC's own in-doubt transaction for most of the window.
      EXPECT_GT(c["probe_blocked_ms"].get<double>(), 1000.0);
      EXPECT_EQ(c["history"]["ok"], true) << c["history"];
      EXPECT_GT(c["vacuum"]["dead_tuples_kept_while_held"].get<uint64_t>(), 0u);
    }
  }
  EXPECT_TRUE(skew && held);
  // The outbox has no in-doubt transaction: its probe waits only for short ones.
  EXPECT_GE(outbox_probe_ms, 0);
  EXPECT_LT(outbox_probe_ms, 1000.0);
}

// The smoke size's one order-per-key cell: three partitioned relays drain a
// backlog of 3 events per order without reordering any key.
void OrderPerKeyIsKeptByThePartitionedRelay() {
  ASSERT_TRUE(g_results.is_object());
  const json& s = g_results["order_per_key"];
  ASSERT_TRUE(s.is_object()) << "no order_per_key section";
  ASSERT_EQ(s["cells"].size(), 1u);
  const json& c = s["cells"][0];
  EXPECT_EQ(c["status"], "ran") << c["reason"];
  EXPECT_EQ(c["approach"], "outbox-skip-locked");
  EXPECT_EQ(c["instances"], 3);
  EXPECT_EQ(c["partitioned"], true);
  EXPECT_EQ(c["events_written"], 3 * s["orders"].get<int64_t>()) << c;
  EXPECT_EQ(c["events_read"], c["events_written"]) << c;
  EXPECT_EQ(c["keys_reordered"], 0) << c["first_inversion"];
  EXPECT_EQ(c["gaps"], 0);
  EXPECT_GT(c["drain_rate_per_s"].get<double>(), 0);
  std::ifstream r(g_out + "/report.md");
  std::string report((std::istreambuf_iterator<char>(r)), {});
  EXPECT_NE(report.find("\n## Order per key\n"), std::string::npos);
}

void FromRerendersWithoutRunning() {
  ASSERT_TRUE(g_results.is_object());
  const std::string again = testing::TempDir("compare-from");
  std::string out;
  Status s = RunCommand(
      {testing::DualwriteBinary(), "compare", "--from", g_out + "/results.json", "--out", again},
      &out);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << out;
  std::ifstream a(g_out + "/report.md"), b(again + "/report.md");
  std::string ra((std::istreambuf_iterator<char>(a)), {}),
      rb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(ra, rb);
  EXPECT_TRUE(fs::exists(again + "/plots"));
}

TEST(CompareSmoke, MainJobEndToEnd) {
  RunOnce();
  ASSERT_TRUE(g_status.ok()) << g_status.ToString() << "\n" << g_output;
  {
    SCOPED_TRACE("outputs");
    RunsAndWritesEveryOutput();
  }
  {
    SCOPED_TRACE("latency cells");
    EveryApproachHasMeasuredLatencyCells();
  }
  {
    SCOPED_TRACE("rate grid, contention, relay scaling");
    RateGridContentionAndScaling();
  }
  {
    SCOPED_TRACE("failure matrix");
    FailureMatrixIsCompleteAndCleanWhereGuaranteed();
  }
  {
    SCOPED_TRACE("lessons");
    OffsetNaiveLosesUnderClockSkewAndTheHeldTransactionBlocks();
  }
  {
    SCOPED_TRACE("order per key");
    OrderPerKeyIsKeptByThePartitionedRelay();
  }
  {
    SCOPED_TRACE("--from");
    FromRerendersWithoutRunning();
  }
}

// --dsn / --broker: the user's own server and broker, shared by every cell
// (scratch databases, disjoint order ids and coordinator ids per cell). The
// scenario that crashes Postgres is skipped there; the rest must stay clean.
TEST(CompareSmoke, ExternalServerAndBroker) {
  const std::string state = testing::TempDir("compare-external-env");
  std::string out;
  Status s = RunCommand({testing::DualwriteBinary(), "up", "--state-dir", state}, &out);
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << out;
  s = RunCommand({testing::DualwriteBinary(), "env", "--state-dir", state, "--json"}, &out);
  ASSERT_TRUE(s.ok()) << out;
  json env = json::parse(out.substr(out.find('{')), nullptr, false);
  ASSERT_TRUE(env.is_object()) << out;
  const std::string dir = testing::TempDir("compare-external");
  // Twice: the second run meets the first one's messages and gids on the
  // broker. The first leaves the failure matrix out (--scenarios none); the
  // second runs all of it.
  for (int round = 0; round < 2; ++round) {
    std::vector<std::string> argv = {testing::DualwriteBinary(),
                                     "--dsn",
                                     env["dsn"].get<std::string>(),
                                     "--broker",
                                     env["broker_url"].get<std::string>(),
                                     "compare",
                                     "--smoke",
                                     "--only",
                                     round == 0 ? "2pc-pg" : "2pc-pg,outbox-skip-locked",
                                     "--out",
                                     dir};
    if (round == 0) argv.insert(argv.end(), {"--scenarios", "none"});
    s = RunCommand(argv, &out);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << out;
    if (round == 0) {
      std::ifstream first(dir + "/results.json");
      json r0 = json::parse(first, nullptr, false);
      ASSERT_TRUE(r0.is_object());
      EXPECT_EQ(r0["settings"]["scenarios"], "none");
      EXPECT_TRUE(r0["failures"]["cells"].empty()) << r0["failures"];
    }
  }
  std::ifstream in(dir + "/results.json");
  json r = json::parse(in, nullptr, false);
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["settings"]["environment"], "external");
  for (const auto& c : r["latency"]) EXPECT_TRUE(c["verify"]["ok"].get<bool>()) << c;
  for (const auto& c : r["failures"]["cells"]) {
    if (c["scenario"] == "postgres-restart") {
      EXPECT_EQ(c["status"], "skipped");
    } else if (c["status"] == "ran") {
      EXPECT_EQ(c["verdict"], "clean") << c["scenario"] << " x " << c["approach"];
    }
  }
  Status down =
      RunCommand({testing::DualwriteBinary(), "down", "--purge", "--state-dir", state}, &out);
  EXPECT_TRUE(down.ok()) << down.ToString() << "\n" << out;
}

TEST(CompareFlags, BadInputIsOneLineAndNonZero) {
  std::string out;
  Status s = RunCommand({testing::DualwriteBinary(), "compare", "--only", "bogus", "--out",
                         testing::TempDir("compare-bad")},
                        &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(out.find("unknown approach 'bogus'"), std::string::npos) << out;
  s = RunCommand({testing::DualwriteBinary(), "compare", "--from", "/nonexistent/results.json"},
                 &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(out.find("cannot read"), std::string::npos) << out;
  s = RunCommand(
      {testing::DualwriteBinary(), "--dsn", "host=127.0.0.1 port=1 user=x password=hunter2",
       "compare", "--smoke", "--out", testing::TempDir("compare-bad2")},
      &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(out.find("cannot connect to Postgres"), std::string::npos) << out;
  EXPECT_EQ(out.find("hunter2"), std::string::npos) << "the password leaked: " << out;
}

}  // namespace
}  // namespace dw
