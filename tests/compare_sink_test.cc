// `dualwrite compare --sink nats|rabbitmq` at the smoke size: one real
// server for the run (started in compare's scratch folder, stopped at the
// end), every outbox relay publishing to it, the e2e tail and verify reading
// it back. Asserted: every load cell delivered each committed order and its
// judge (verify against that server) is clean; 2PC, which cannot run there,
// is recorded with why instead of measured; the failure matrix's scenarios
// ran on that server (killed and restarted, slowed and cut off through a
// fault proxy, and those that leave it alone) with nothing lost; the
// report's first lines name the broker and which scenarios ran.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"

namespace dw {
namespace {

using json = nlohmann::json;
using std::chrono::seconds;

// Every load cell of section 1, whatever its part (latency, rate grid,
// contention, relay scaling).
std::vector<json> LoadCells(const json& r) {
  std::vector<json> v;
  for (const auto& c : r["latency"]) v.push_back(c);
  for (const char* part : {"rate_grid", "contention", "relay_scaling"}) {
    if (r.contains(part) && r[part]["cells"].is_array()) {
      for (const auto& c : r[part]["cells"]) v.push_back(c);
    }
  }
  return v;
}

void RunsOnTheSink(const std::string& sink, const std::string& title, const std::string& scheme) {
  const std::string dir = testing::TempDir("compare-sink-" + sink);
  testing::CliRun run = testing::RunCli({"compare", "--smoke", "--sink", sink, "--only",
                                         "outbox-skip-locked,2pc-pg", "--out", dir, "--seed", "7"},
                                        seconds(600));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  std::ifstream in(dir + "/results.json");
  const json r = json::parse(in, nullptr, false);
  ASSERT_TRUE(r.is_object()) << run.err;
  EXPECT_EQ(r["settings"]["sink"], sink);
  EXPECT_EQ(r["settings"]["not_measured"], json({{"2pc-pg", "n/a: this broker cannot prepare"}}));

  const std::vector<json> cells = LoadCells(r);
  ASSERT_GE(cells.size(), 4u) << "latency, the grid's first rate, contention, scaling";
  EXPECT_EQ(r["latency"].size(), 1u);
  for (const json& c : cells) {
    const std::string what = c["approach"].get<std::string>() + " " + c["mode"].get<std::string>();
    EXPECT_EQ(c["approach"], "outbox-skip-locked") << "only the outbox is measured";
    EXPECT_TRUE(c["error"].is_null()) << what << ": " << c["error"];
    ASSERT_TRUE(c["committed"].is_number()) << what;
    EXPECT_GT(c["committed"].get<int64_t>(), 0) << what;
    // Every committed order's message was read back from the server...
    EXPECT_EQ(c["delivered"], c["committed"]) << what;
    ASSERT_TRUE(c["e2e_ms"].is_object()) << what;
    EXPECT_TRUE(c["e2e_ms"]["p50"].is_number()) << what;
    // ...and verify, reading that server, found each exactly once.
    ASSERT_TRUE(c["verify"].is_object()) << what;
    EXPECT_EQ(c["verify"]["ok"], true) << what << c["verify"];
    EXPECT_EQ(c["verify"]["missing"], 0) << what;
    EXPECT_EQ(c["verify"]["orphans"], 0) << what;
    EXPECT_EQ(c["verify"]["duplicates"], 0) << what;
    // The relay was told where to publish; the server's CPU is the broker's.
    EXPECT_NE(c["command"].get<std::string>().find("--sink " + scheme), std::string::npos)
        << c["command"];
    EXPECT_TRUE(c["cpu_us_per_op"]["broker"].is_number()) << what << c["cpu_us_per_op"];
    EXPECT_TRUE(c["cost"]["broker_fsyncs_per_op"].is_null()) << "dualwrite's broker's counter";
  }

  // The failure matrix: 2PC recorded as n/a; the outbox's cells ran on the
  // server, each judged by verify against it, or say they did not run yet.
  ASSERT_FALSE(r["failures"]["cells"].empty());
  std::vector<std::string> ran;
  for (const auto& c : r["failures"]["cells"]) {
    const std::string id =
        c["scenario"].get<std::string>() + " x " + c["approach"].get<std::string>();
    if (c["approach"] == "2pc-pg") {
      EXPECT_EQ(c["status"], "n/a") << id;
      continue;
    }
    if (c["status"] == "skipped") {
      EXPECT_EQ(c["reason"], "not run with --sink " + sink + " yet") << id;
      continue;
    }
    if (c["status"] != "ran") continue;  // n/a for the outbox (in-doubt-held may be)
    ran.push_back(c["scenario"].get<std::string>());
    EXPECT_EQ(c["verdict"], "clean") << id << c["verify"] << c["notes"];
    EXPECT_EQ(c["lost"], 0) << id;
    EXPECT_EQ(c["orphans"], 0) << id;
    ASSERT_TRUE(c["verify"].is_object()) << id;
    EXPECT_EQ(c["verify"]["missing"], 0) << id;
    EXPECT_NE(c["command"].get<std::string>().find("--sink " + scheme), std::string::npos)
        << id << c["command"];
    EXPECT_TRUE(c["duplicates_before_dedupe"].is_null()) << "dualwrite's broker's counter";
    ASSERT_TRUE(c["ops_total"].is_object()) << id;
    EXPECT_GT(c["ops_total"]["succeeded"].get<int64_t>(), 0) << id;
  }
  // The scenarios that leave the broker alone, and those that kill the
  // server (and start it again on the same store) or slow it down or cut
  // it off through a fault proxy in front of it.
  for (const char* scenario : {"broker-down", "broker-slow", "partition", "process-kill",
                               "postgres-restart", "clock-skew"}) {
    EXPECT_NE(std::find(ran.begin(), ran.end(), scenario), ran.end()) << scenario;
  }
  // broker-down: the server itself was killed and came back, and what it
  // had acknowledged is there (verify above: nothing missing).
  for (const auto& c : r["failures"]["cells"]) {
    if (c["scenario"] != "broker-down" || c["status"] != "ran") continue;
    EXPECT_NE(c["notes"].dump().find("killed with SIGKILL and started again on the same port"),
              std::string::npos)
        << c["notes"];
  }
  // Order per key: the outbox's cells run on the server too (2PC's do not),
  // read back in the stream's or queue's order by the tail and verify.
  ASSERT_TRUE(r.contains("order_per_key"));
  ASSERT_TRUE(r["order_per_key"]["cells"].is_array());
  ASSERT_FALSE(r["order_per_key"]["cells"].empty());
  for (const auto& c : r["order_per_key"]["cells"]) {
    EXPECT_EQ(c["approach"], "outbox-skip-locked") << c;
    EXPECT_EQ(c["status"], "ran") << c;
    EXPECT_EQ(c["events_read"], c["events_written"]) << c;
    EXPECT_GT(c["events_written"].get<int64_t>(), 0) << c;
    EXPECT_EQ(c["lost"], 0) << c;
    EXPECT_EQ(c["gaps"], 0) << c;
    if (c["partitioned"] == true) {
      EXPECT_EQ(c["keys_reordered"], 0) << c;
    }
  }

  const std::string report = testing::ReadFileBytes(dir + "/report.md");
  EXPECT_NE(report.find("**Broker:** the outbox published to " + title), std::string::npos)
      << report.substr(0, 1500);
  EXPECT_NE(report.find("2pc-pg (n/a: this broker cannot prepare)"), std::string::npos);
  EXPECT_NE(report.find("The failure matrix ran with this broker: "), std::string::npos)
      << report.substr(0, 1500);
  EXPECT_NE(report.find("--only outbox-skip-locked,2pc-pg --seed 7 --sink " + sink),
            std::string::npos);
}

TEST(CompareSink, Nats) { RunsOnTheSink("nats", "NATS JetStream", "nats://"); }

TEST(CompareSink, Rabbitmq) { RunsOnTheSink("rabbitmq", "RabbitMQ", "amqp://"); }

// Refused in one line before anything starts.
TEST(CompareSink, BadCombinationsAreRefused) {
  testing::CliRun run = testing::RunCli(
      {"compare", "--smoke", "--sink", "kafka", "--out", testing::TempDir("compare-sink-bad")});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("--sink"), std::string::npos) << run.err;
  run = testing::RunCli({"compare", "--smoke", "--sink", "nats", "--only", "2pc", "--out",
                         testing::TempDir("compare-sink-bad2")});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("selects none of them"), std::string::npos) << run.err;
  run = testing::RunCli({"--broker", "http://127.0.0.1:1", "compare", "--smoke", "--sink", "nats",
                         "--out", testing::TempDir("compare-sink-bad3")});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("no cell of --sink nats uses"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace dw
