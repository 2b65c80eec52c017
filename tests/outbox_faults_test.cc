// Faults against the real processes:
//  - the relay PROCESS (`dualwrite outbox relay`) SIGKILLed mid-drain and
//    restarted: nothing lost, no duplicate left at the broker (it
//    deduplicates by event id), for every strategy but offset-naive;
//  - the broker down for a few seconds during load: writes keep
//    committing, the relay backs off and drains afterwards, nothing lost.
#include <signal.h>

#include <gtest/gtest.h>

#include "common/process.h"
#include "outbox/relay.h"
#include "participants/broker_client.h"
#include "tests/support/outbox_test_util.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

class FaultsTest : public OutboxTest, public ::testing::WithParamInterface<outbox::Strategy> {
 protected:
  pid_t SpawnRelay(outbox::Strategy s, const std::vector<std::string>& extra,
                   const std::string& log) {
    std::vector<std::string> args = {"--strategy", outbox::StrategyName(s), "--lease-ms",
                                     "1000",       "--poll-interval-ms",    "200"};
    args.insert(args.end(), extra.begin(), extra.end());
    return SpawnRelayCli(args, log);
  }
};

TEST_P(FaultsTest, RelayProcessKilledMidDrainAndRestartedLosesNothing) {
  const outbox::Strategy strategy = GetParam();
  constexpr int64_t kOrders = 3000;
  {
    std::unique_ptr<outbox::OutboxWriter> writer;
    ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(8), &writer).ok());
    EXPECT_EQ(Write(writer.get(), kOrders, 8).committed, static_cast<uint64_t>(kOrders));
  }
  // Slow the broker down so the drain takes a few seconds and the kill
  // lands in the middle of it.
  BrokerFaults(R"({"latency_ms": 10})");
  const std::string log = TempDir("outbox-kill") + "/relay.log";
  pid_t pid = SpawnRelay(strategy, {"--batch", "20"}, log);
  ASSERT_NO_FATAL_FAILURE(KillRelayOnceBrokerHolds(pid, kOrders / 4, log));
  uint64_t at_kill = BrokerCount();
  EXPECT_LT(at_kill, static_cast<uint64_t>(kOrders)) << "the kill should land mid-drain";
  BrokerFaults(R"({"latency_ms": 0})");

  // Restart: it must pick up where the dead one stopped (status: after the
  // dead relay's lease expires the reaper returns its claimed rows).
  pid = SpawnRelay(strategy, {"--batch", "100", "--until-drained"}, log);
  auto status = WaitChild(pid, 120s);
  ASSERT_TRUE(status.has_value()) << "restarted relay did not drain within 120 s; see " << log;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "see " << log;

  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20) << "see " << log;
}

TEST_P(FaultsTest, BrokerDownDuringLoadBacksOffAndDrainsAfterwards) {
  const outbox::Strategy strategy = GetParam();
  constexpr int64_t kOrders = 2000;
  std::unique_ptr<outbox::OutboxWriter> writer;
  ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(8), &writer).ok());
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  outbox::RelayOptions ro = Relay(strategy);
  ro.broker_timeout = 1000ms;
  RelayThread relay(ro, rn);

  // 2000 orders at 800/s: 2.5 s of load; the broker goes down for 2 s
  // half a second in.
  std::thread outage([&] {
    std::this_thread::sleep_for(500ms);
    BrokerFaults(R"({"down_for_ms": 2000})");
  });
  workload::LoadSummary sum = Write(writer.get(), kOrders, 8, /*rate=*/800);
  outage.join();
  EXPECT_EQ(sum.committed, static_cast<uint64_t>(kOrders)) << "writes must not need the broker";
  EXPECT_EQ(sum.failed, 0u);
  writer.reset();

  const outbox::RelayReport& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  EXPECT_GT(report.errors, 0u) << "the relay should have met the outage: " << report.ToText();
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

std::string Name(const ::testing::TestParamInfo<outbox::Strategy>& info) {
  std::string n = outbox::StrategyName(info.param);
  std::string out;
  bool up = true;
  for (char c : n) {
    if (c == '-') {
      up = true;
      continue;
    }
    out.push_back(up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    up = false;
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Strategies, FaultsTest,
                         ::testing::Values(outbox::Strategy::kSkipLocked, outbox::Strategy::kStatus,
                                           outbox::Strategy::kOffsetSafe, outbox::Strategy::kCdc),
                         Name);

}  // namespace
}  // namespace dw::testing
