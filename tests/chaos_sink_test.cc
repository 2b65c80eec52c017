// `dualwrite chaos --sink nats`: the crash campaign against one real
// nats-server with JetStream (started in the campaign's scratch folder),
// drawing the outbox family only. Asserted: a few seeded runs end without a
// violation, each judged by verify against that server; and JetStream's
// duplicate window seen from both sides with the same drawn run, a Postgres
// crash under the CDC relay: its replication slot comes back at the
// position it last saved (below), so the relay publishes everything since
// again. Within the default 2 min window the
// replay stores nothing twice; with a 500 ms --dedupe-window the copies are
// delivered, and nothing is lost. RabbitMQ (labelled apart) delivers them
// whatever the window. relay-outage (the relay killed mid-drain and kept
// down past a short window) runs once, judged clean: whether its kill finds
// a batch in flight is a matter of timing, so its copies are not counted on.
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

json Campaign(const std::vector<std::string>& flags, testing::CliRun* run) {
  const std::string out = testing::TempDir("chaos-sink");
  std::vector<std::string> args = {"chaos", "--out", out};
  args.insert(args.end(), flags.begin(), flags.end());
  *run = testing::RunCli(args, seconds(600));
  std::ifstream in(out + "/chaos.json");
  return in ? json::parse(in, nullptr, false) : json();
}

const json& OnlyRun(const json& r) {
  static const json none;
  return r.is_object() && r["runs"].size() == 1 ? r["runs"][0] : none;
}

// Every run of a campaign ran on the server, clean, with nothing lost.
void ExpectCleanOnNats(const json& r, const testing::CliRun& run, size_t runs) {
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  ASSERT_TRUE(r.is_object()) << run.err;
  EXPECT_EQ(r["sink"], "nats");
  EXPECT_EQ(r["violations"], 0);
  EXPECT_NE(run.out.find("chaos: the outbox publishes to NATS JetStream at nats://"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find(std::to_string(runs) + " runs, 0 violation(s)"), std::string::npos)
      << run.out;
  ASSERT_EQ(r["runs"].size(), runs);
  for (const auto& one : r["runs"]) {
    const json& cell = one["cell"];
    EXPECT_EQ(one["approach"].get<std::string>().rfind("outbox-", 0), 0u) << one["drawn"];
    EXPECT_NE(one["reproduce"].get<std::string>().find(" --sink nats"), std::string::npos);
    ASSERT_EQ(cell["status"], "ran") << cell.dump();
    EXPECT_EQ(one["verdict"], "clean") << one["drawn"] << ": " << cell.dump();
    EXPECT_EQ(cell["lost"], 0) << one["drawn"];
    EXPECT_GT(cell["history"]["acknowledged"].get<uint64_t>(), 0u) << one["drawn"];
    EXPECT_NE(cell["notes"].dump().find("judged by verify against NATS JetStream"),
              std::string::npos)
        << cell["notes"];
  }
}

// Seed 1's first three runs draw outbox-skip-locked broker-slow (through
// the fault proxy in front of the server) and two relay SIGKILLs
// (process-kill: outbox-cdc, outbox-trigger); run 0 of `--fault
// broker-down` SIGKILLs the nats-server itself and starts it again.
TEST(ChaosSink, NatsCampaignFindsNoViolation) {
  testing::CliRun run;
  json r = Campaign({"--sink", "nats", "--runs", "3", "--seed", "1"}, &run);
  ExpectCleanOnNats(r, run, 3);
  r = Campaign({"--sink", "nats", "--fault", "broker-down", "--seed", "1", "--run", "0"}, &run);
  ExpectCleanOnNats(r, run, 1);
  EXPECT_NE(OnlyRun(r)["cell"]["notes"].dump().find("nats-server accepted clients again"),
            std::string::npos)
      << OnlyRun(r)["cell"]["notes"];
}

// Run 0 of seed 1 with `--approach outbox-cdc --fault postgres-restart`:
// Postgres crashes under the CDC relay (c=1, a 1.5 s window).
std::vector<std::string> SlotRewound(const std::string& sink) {
  return {"--sink",           sink,     "--approach", "outbox-cdc", "--fault",
          "postgres-restart", "--seed", "1",          "--run",      "0"};
}

// The run, clean and with nothing lost, whatever its duplicates.
const json& CleanRun(const json& r, const testing::CliRun& run, const std::string& drawn) {
  static const json none;
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  const json& one = OnlyRun(r);
  if (!one.is_object()) {
    ADD_FAILURE() << run.out << run.err;
    return none;
  }
  const json& cell = one["cell"];
  EXPECT_EQ(one["drawn"].get<std::string>().rfind(drawn, 0), 0u) << one["drawn"];
  EXPECT_EQ(one["verdict"], "clean") << cell.dump();
  EXPECT_EQ(cell["lost"], 0);
  EXPECT_EQ(cell["orphans"], 0);
  EXPECT_TRUE(cell["history"]["ok"].get<bool>()) << cell["history"];
  EXPECT_EQ(one["duplicates"], cell["duplicates"]);
  EXPECT_EQ(r["duplicates"], cell["duplicates"]);
  return one;
}

TEST(ChaosSink, ReplayWithinTheDefaultDuplicateWindowIsDropped) {
  testing::CliRun run;
  const json r = Campaign(SlotRewound("nats"), &run);
  const json& one = CleanRun(r, run, "outbox-cdc postgres-restart c=1");
  ASSERT_TRUE(one.is_object());
  EXPECT_TRUE(r["dedupe_window_s"].is_null());
  EXPECT_EQ(one["cell"]["duplicates"], 0) << "JetStream drops a republished id within 2 min";
}

// The slot is saved at its creation and again whenever a confirmation moves
// its restart point, which happens at a running-transactions record (the
// background writer logs one every 15 s while WAL is written): a save just
// before the crash leaves only the last moment's messages to replay, about
// 1.5 s (the window) plus the restart later. A window of 500 ms is well
// under that, so every replayed message is a copy; with 2 s such a run
// replayed none past it now and then.
TEST(ChaosSink, ReplayPastAShortDuplicateWindowDeliversDuplicates) {
  std::vector<std::string> flags = SlotRewound("nats");
  flags.insert(flags.end(), {"--dedupe-window", "500ms"});
  testing::CliRun run;
  const json r = Campaign(flags, &run);
  const json& one = CleanRun(r, run, "outbox-cdc postgres-restart c=1");
  ASSERT_TRUE(one.is_object());
  const json& cell = one["cell"];
  EXPECT_EQ(r["dedupe_window_s"], 0.5);
  EXPECT_NE(one["reproduce"].get<std::string>().find(" --sink nats --dedupe-window 500ms"),
            std::string::npos)
      << one["reproduce"];
  // Duplicates delivered, nothing lost: not a violation.
  EXPECT_GT(cell["duplicates"].get<int64_t>(), 0) << cell.dump();
  EXPECT_NE(cell["notes"].dump().find("duplicate window (0.5 s here)"), std::string::npos)
      << cell["notes"];
  EXPECT_NE(run.out.find("duplicate(s) delivered (replay past the 500ms duplicate window"),
            std::string::npos)
      << run.out;
}

// Seed 1, run 3 of `--fault relay-outage --dedupe-window 2s` draws
// outbox-skip-locked at c=8: the relay stopped 0.5 s, killed mid-drain,
// and down about 3.5 s, longer than the window, before its restart.
TEST(ChaosSink, RelayOutagePastTheWindowLosesNothing) {
  testing::CliRun run;
  const json r = Campaign({"--sink", "nats", "--dedupe-window", "2s", "--fault", "relay-outage",
                           "--seed", "1", "--run", "3"},
                          &run);
  const json& one = CleanRun(r, run, "outbox-skip-locked relay-outage c=8 fault 4s");
  ASSERT_TRUE(one.is_object());
  const std::string notes = one["cell"]["notes"].dump();
  EXPECT_NE(notes.find("killed with SIGKILL"), std::string::npos) << notes;
  EXPECT_NE(notes.find("the relay stayed down"), std::string::npos) << notes;
}

// RabbitMQ keeps no message ids: the same rewound slot's replay is
// delivered, counted and not a violation.
TEST(ChaosSink, RabbitmqReplayDeliversDuplicates) {
  testing::CliRun run;
  const json r = Campaign(SlotRewound("rabbitmq"), &run);
  const json& one = CleanRun(r, run, "outbox-cdc postgres-restart c=1");
  ASSERT_TRUE(one.is_object());
  EXPECT_EQ(r["sink"], "rabbitmq");
  EXPECT_GT(one["cell"]["duplicates"].get<int64_t>(), 0) << one["cell"].dump();
  EXPECT_NE(one["cell"]["notes"].dump().find("RabbitMQ keeps no message ids"), std::string::npos)
      << one["cell"]["notes"];
}

TEST(ChaosSink, BadFlagsAreOneLineErrors) {
  testing::CliRun run = testing::RunCli({"chaos", "--dedupe-window", "2s"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--dedupe-window is for --sink nats"), std::string::npos) << run.err;
  run = testing::RunCli({"chaos", "--sink", "nats", "--approach", "2pc"});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("chaos draws the outbox family there"), std::string::npos) << run.err;
  run = testing::RunCli({"--broker", "http://127.0.0.1:1", "chaos", "--sink", "nats"});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("--broker is not supported"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace dw
