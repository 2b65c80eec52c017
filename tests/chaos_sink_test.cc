// `dualwrite chaos --sink nats`: the crash campaign against one real
// nats-server with JetStream (started in the campaign's scratch folder),
// drawing the outbox family only. Asserted: a few seeded runs end without a
// violation, each judged by verify against that server; and JetStream's
// duplicate window seen from both sides with the same drawn run of
// relay-outage (the relay killed while it drains a backlog, a batch
// published and not yet marked, and restarted at the end of the window):
// within the default 2 min window the replay stores nothing twice; with a
// 2 s --dedupe-window, which the run's outage outlasts, the replay's copies
// are delivered, and nothing is lost. RabbitMQ (labelled apart) delivers
// them whatever the outage.
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

// Seed 1, run 3 of `--fault relay-outage` draws outbox-skip-locked at c=8:
// the relay stopped 0.5 s, then killed mid-drain.
const std::vector<std::string> kOutage = {"--sink", "nats", "--fault", "relay-outage",
                                          "--seed", "1",    "--run",   "3"};

TEST(ChaosSink, ReplayWithinTheDefaultDuplicateWindowIsDropped) {
  testing::CliRun run;
  const json r = Campaign(kOutage, &run);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const json& one = OnlyRun(r);
  ASSERT_TRUE(one.is_object()) << run.out << run.err;
  EXPECT_EQ(one["drawn"].get<std::string>().rfind("outbox-skip-locked relay-outage c=8", 0), 0u)
      << one["drawn"];
  EXPECT_EQ(one["verdict"], "clean") << one["cell"].dump();
  EXPECT_EQ(one["cell"]["lost"], 0);
  EXPECT_EQ(one["cell"]["duplicates"], 0) << "JetStream drops a republished id within 2 min";
  EXPECT_EQ(r["duplicates"], 0);
}

TEST(ChaosSink, ReplayPastAShortDuplicateWindowDeliversDuplicates) {
  std::vector<std::string> flags = kOutage;
  flags.insert(flags.end(), {"--dedupe-window", "2s"});
  testing::CliRun run;
  const json r = Campaign(flags, &run);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const json& one = OnlyRun(r);
  ASSERT_TRUE(one.is_object()) << run.out << run.err;
  const json& cell = one["cell"];
  EXPECT_EQ(one["drawn"].get<std::string>().rfind("outbox-skip-locked relay-outage c=8", 0), 0u)
      << one["drawn"];
  EXPECT_EQ(r["dedupe_window_s"], 2.0);
  EXPECT_NE(one["reproduce"].get<std::string>().find(" --sink nats --dedupe-window 2s"),
            std::string::npos)
      << one["reproduce"];
  // Duplicates delivered, nothing lost: not a violation.
  EXPECT_EQ(one["verdict"], "clean") << cell.dump();
  EXPECT_EQ(cell["lost"], 0);
  EXPECT_EQ(cell["orphans"], 0);
  EXPECT_TRUE(cell["history"]["ok"].get<bool>()) << cell["history"];
  EXPECT_GT(cell["duplicates"].get<int64_t>(), 0) << cell.dump();
  EXPECT_EQ(one["duplicates"], cell["duplicates"]);
  EXPECT_EQ(r["duplicates"], cell["duplicates"]);
  EXPECT_NE(cell["notes"].dump().find("duplicate window (2 s here)"), std::string::npos)
      << cell["notes"];
  EXPECT_NE(run.out.find("duplicate(s) delivered (replay past the 2s duplicate window"),
            std::string::npos)
      << run.out;
}

// RabbitMQ keeps no message ids: the same drawn replay delivers its copies
// whatever the outage's length, counted and not a violation.
TEST(ChaosSink, RabbitmqReplayDeliversDuplicates) {
  const std::vector<std::string> flags = {"--sink", "rabbitmq", "--fault", "relay-outage",
                                          "--seed", "1",        "--run",   "3"};
  testing::CliRun run;
  const json r = Campaign(flags, &run);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const json& one = OnlyRun(r);
  ASSERT_TRUE(one.is_object()) << run.out << run.err;
  const json& cell = one["cell"];
  EXPECT_EQ(r["sink"], "rabbitmq");
  EXPECT_EQ(one["drawn"].get<std::string>().rfind("outbox-skip-locked relay-outage c=8", 0), 0u)
      << one["drawn"];
  EXPECT_EQ(one["verdict"], "clean") << cell.dump();
  EXPECT_EQ(cell["lost"], 0);
  EXPECT_GT(cell["duplicates"].get<int64_t>(), 0) << cell.dump();
  EXPECT_NE(cell["notes"].dump().find("RabbitMQ keeps no message ids"), std::string::npos)
      << cell["notes"];
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
