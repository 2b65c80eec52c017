// Every strategy end to end: N orders from 8 concurrent writers while the
// relay runs, then `verify` must be clean (every order exactly once at the
// broker). N is 2000 here and 10,000 in the `slow` build of this file
// (DW_OUTBOX_ORDERS).
#include <gtest/gtest.h>

#include "outbox/relay.h"
#include "outbox/schema.h"
#include "tests/outbox_test_util.h"

#ifndef DW_OUTBOX_ORDERS
#define DW_OUTBOX_ORDERS 2000
#endif
// Distinct test names in the slow build: ctest names tests by their gtest name.
#if DW_OUTBOX_ORDERS > 2000
#define DW_OUTBOX_INSTANCE Orders10k
#else
#define DW_OUTBOX_INSTANCE Strategies
#endif

namespace dw::testing {
namespace {

constexpr int64_t kOrders = DW_OUTBOX_ORDERS;
constexpr int kWriters = 8;

struct Case {
  outbox::Strategy strategy;
  int instances;
  bool trigger;
  const char* name;
  bool mark = false;  // skip-locked --mark: rows are marked 'sent', not deleted
};

class RelayEndToEnd : public OutboxTest, public ::testing::WithParamInterface<Case> {};

TEST_P(RelayEndToEnd, ConcurrentWritersAndRelayVerifyClean) {
  const Case& c = GetParam();
  std::unique_ptr<outbox::OutboxWriter> writer;
  Status s = outbox::OutboxWriter::Open(Writer(kWriters, c.trigger), &writer);
  ASSERT_TRUE(s.ok()) << s.ToString();

  outbox::RunnerOptions rn;
  rn.instances = c.instances;
  rn.until_drained = true;  // the writer above holds the writers' lock until reset
  outbox::RelayOptions ro = Relay(c.strategy);
  ro.mark_sent = c.mark;
  RelayThread relay(ro, rn);

  workload::LoadSummary sum = Write(writer.get(), kOrders, kWriters);
  EXPECT_EQ(sum.committed, static_cast<uint64_t>(kOrders));
  writer.reset();  // writers done: the relay may now finish once drained

  const outbox::RelayReport& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  EXPECT_GE(report.published, static_cast<uint64_t>(kOrders)) << report.ToText();

  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);

  // What each strategy leaves behind in the table.
  switch (c.strategy) {
    case outbox::Strategy::kSkipLocked:
      if (c.mark) {
        EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table WHERE status <> 'sent'"), 0);
        EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), kOrders);
      } else {
        EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), 0);
      }
      break;
    case outbox::Strategy::kStatus:
      EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table WHERE status <> 'sent'"), 0);
      EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), kOrders);
      break;
    case outbox::Strategy::kOffsetSafe:
      EXPECT_EQ(SqlInt(dsn_,
                       "SELECT count(*) FROM outbox_table WHERE (txid, id) > (SELECT "
                       "counter_xid, counter_value FROM outbox_counter WHERE counter_key = "
                       "'offset-safe')"),
                0);
      break;
    default:
      break;
  }
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(
    DW_OUTBOX_INSTANCE, RelayEndToEnd,
    ::testing::Values(Case{outbox::Strategy::kSkipLocked, 1, false, "SkipLocked"},
                      Case{outbox::Strategy::kSkipLocked, 3, false, "SkipLockedK3"},
                      Case{outbox::Strategy::kSkipLocked, 3, false, "SkipLockedMarkK3", true},
                      Case{outbox::Strategy::kStatus, 1, false, "Status"},
                      Case{outbox::Strategy::kStatus, 3, false, "StatusK3"},
                      Case{outbox::Strategy::kOffsetSafe, 1, false, "OffsetSafe"},
                      Case{outbox::Strategy::kCdc, 1, false, "Cdc"},
                      Case{outbox::Strategy::kSkipLocked, 1, true, "TriggerCaptureSkipLocked"},
                      Case{outbox::Strategy::kStatus, 1, true, "TriggerCaptureStatus"}),
    CaseName);

#if DW_OUTBOX_ORDERS <= 2000  // the slow build runs only the runs above
// CDC on a table that already holds rows when the slot is created: the
// initial copy from the slot's exported snapshot publishes them, then the
// stream takes over. A restart (a new relay on the existing slot) publishes
// only what came after.
TEST_F(OutboxTest, CdcPublishesRowsWrittenBeforeTheSlotExisted) {
  {
    std::unique_ptr<outbox::OutboxWriter> writer;
    ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(4), &writer).ok());
    EXPECT_EQ(Write(writer.get(), 500, 4).committed, 500u);
  }
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  {
    RelayThread relay(Relay(outbox::Strategy::kCdc), rn);
    const auto& r = relay.Join();
    EXPECT_TRUE(r.drained);
  }
  EXPECT_TRUE(Verify().ok());
  {
    std::unique_ptr<outbox::OutboxWriter> writer;
    ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(4), &writer).ok());
    EXPECT_EQ(Write(writer.get(), 300, 4).committed, 300u);
  }
  RelayThread relay(Relay(outbox::Strategy::kCdc), rn);
  const auto& r = relay.Join();
  EXPECT_TRUE(r.drained);
  EXPECT_EQ(r.published, 300u) << "a restart must resume at the confirmed position";
  auto v = Verify();
  EXPECT_EQ(v.rows, 800u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  // The watermark for partition maintenance moved past the streamed rows.
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_counter WHERE counter_key = 'cdc'"), 1);
}

// The status strategy's reaper: rows a dead relay left 'locked' go back to
// 'new' after the lease and are published.
TEST_F(OutboxTest, StatusReaperReturnsExpiredLocks) {
  {
    std::unique_ptr<outbox::OutboxWriter> writer;
    ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(2), &writer).ok());
    EXPECT_EQ(Write(writer.get(), 200, 2).committed, 200u);
  }
  // A relay that claimed 50 rows and died.
  Sql(dsn_,
      "UPDATE outbox_table SET status = 'locked', locked_at = now() - interval '1 hour',"
      " locked_by = 'dead' WHERE id IN (SELECT id FROM outbox_table ORDER BY id LIMIT 50)");
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  RelayThread relay(Relay(outbox::Strategy::kStatus), rn);
  const auto& r = relay.Join();
  EXPECT_TRUE(r.drained);
  EXPECT_EQ(r.reaped, 50u);
  auto v = Verify();
  EXPECT_EQ(v.rows, 200u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

#endif

}  // namespace
}  // namespace dw::testing
