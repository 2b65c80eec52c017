// Every no-loss relay strategy into NATS JetStream (a nats-server of the
// test's own, tests/support/nats_fixture.h): 10,000 orders from 8 writers
// with the relay running while they write (tests/support/sink_strategies.h:
// skip-locked, status, offset-safe, cdc, pgq ticking itself, the capture
// trigger's rows by skip-locked, the emitted WAL messages by cdc), then
// verify reads the stream back: every order's event exactly once, nothing
// missing, orphaned or duplicated.
#include <gtest/gtest.h>

#include "tests/support/nats_fixture.h"
#include "tests/support/sink_strategies.h"

namespace dw::testing {
namespace {

class NatsStrategyTest : public SinkStrategyTest<NatsTest> {};

TEST_P(NatsStrategyTest, TenThousandOrdersFromEightWritersWhileTheRelayRunsVerifyClean) {
  WriteWhileRelaying(NatsRelay(500));

  workload::VerifyReport v = VerifyNats();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.missing.empty()) << v.ToText(20);
  EXPECT_TRUE(v.orphans.empty()) << v.ToText(20);
  EXPECT_TRUE(v.duplicates.empty()) << v.ToText(20);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(StreamCount(), static_cast<uint64_t>(kOrders));
}

INSTANTIATE_TEST_SUITE_P(NoLoss, NatsStrategyTest, ::testing::ValuesIn(kNoLossSinkCases),
                         SinkCaseName);

}  // namespace
}  // namespace dw::testing
