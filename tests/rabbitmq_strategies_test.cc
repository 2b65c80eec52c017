// Every no-loss relay strategy into RabbitMQ (the outbox environment's node,
// tests/support/rabbitmq_fixture.h): 10,000 orders from 8 writers with the
// relay running while they write (tests/support/sink_strategies.h:
// skip-locked, status, offset-safe, cdc, pgq ticking itself, the capture
// trigger's rows by skip-locked, the emitted WAL messages by cdc), then
// verify reads the queue back, twice (the read takes nothing away): every
// order's event exactly once. RabbitMQ keeps no message ids, so a batch
// published again after a failure is delivered again; a run without
// failures delivers none twice.
#include <gtest/gtest.h>

#include "tests/support/rabbitmq_fixture.h"
#include "tests/support/sink_strategies.h"

namespace dw::testing {
namespace {

class RabbitmqStrategyTest : public SinkStrategyTest<RabbitmqTest> {};

TEST_P(RabbitmqStrategyTest, TenThousandOrdersFromEightWritersWhileTheRelayRunsVerifyClean) {
  const outbox::RelayReport report = WriteWhileRelaying(RabbitRelay(500));
  EXPECT_EQ(report.errors, 0u) << "a healthy run: " << report.ToText();

  workload::VerifyReport v = VerifyRabbit();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.missing.empty()) << v.ToText(20);
  EXPECT_TRUE(v.orphans.empty()) << v.ToText(20);
  EXPECT_EQ(v.duplicate_messages, 0u) << v.ToText(20);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  // verify consumed without acking: every message is back in the queue.
  EXPECT_EQ(QueueCount(), static_cast<uint64_t>(kOrders));
  v = VerifyRabbit();
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

INSTANTIATE_TEST_SUITE_P(NoLoss, RabbitmqStrategyTest, ::testing::ValuesIn(kNoLossSinkCases),
                         SinkCaseName);

}  // namespace
}  // namespace dw::testing
