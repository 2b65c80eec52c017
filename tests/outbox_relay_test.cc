// Every strategy end to end: N orders from 8 concurrent writers while the
// relay runs, then `verify` must be clean (every order exactly once at the
// broker). N is 2000 here and 10,000 in the `slow` build of this file
// (DW_OUTBOX_ORDERS).
#include <gtest/gtest.h>

#include "common/trace.h"
#include "outbox/event.h"
#include "outbox/relay.h"
#include "outbox/relay_skip_locked.h"
#include "outbox/schema.h"
#include "participants/broker_client.h"
#include "tests/support/outbox_test_util.h"

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
  // The publication carries only the columns the relay publishes.
  EXPECT_EQ(SqlInt(dsn_,
                   "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'dw_outbox_pub'"
                   " AND attnames = '{id,event_id,topic,msg_key,payload}'::name[]"),
            1);
}

// Batches go to the broker by request-body size: 1000 ordinary events are
// ONE request (one durable write at the broker); events whose escaped JSON
// is up to six times their raw size are split under the broker's --max-body
// (1 MiB by default) instead of drawing 413 forever; every payload arrives
// byte-exact.
TEST_F(OutboxTest, PublishEventsSplitsByBodySize) {
  std::unique_ptr<BrokerClient> client;
  BrokerClient::Options bo;
  bo.url = broker_->url();
  ASSERT_TRUE(BrokerClient::Create(bo, &client).ok());
  auto batch_requests = [&] {
    std::string body;
    EXPECT_EQ(RawHttp(broker_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &body), 200);
    const std::string needle = "dw_broker_requests_total{route=\"batch\",code=\"200\"} ";
    size_t at = body.find(needle);
    return at == std::string::npos ? 0L : std::stol(body.substr(at + needle.size()));
  };
  // 1000 events of ~185 bytes: more than a 128 KiB raw cap, far less than 1 MiB of JSON.
  std::vector<outbox::OutboxEvent> small, escaped;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = std::to_string(i);
    small.push_back({i, "split", "small-" + id, id,
                     R"({"order_id":)" + id + R"(,"customer":")" + std::string(120, 'c') +
                         R"(","amount_cents":1234})"});
  }
  // 40 events of 20,000 control bytes: 800 kB raw, 4.2 MB as JSON text (\u00xx for
  // most, \t \n \b \f \r for 7 of them): six requests under the 768 KiB split.
  for (int i = 0; i < 40; ++i) {
    escaped.push_back({i, "split", "esc-" + std::to_string(i), std::to_string(i),
                       std::string(20000, static_cast<char>(1 + i % 31))});
  }
  const long before = batch_requests();
  ASSERT_TRUE(outbox::PublishEvents(client.get(), small).ok());
  EXPECT_EQ(batch_requests() - before, 1) << "1000 small events are one request";
  Status s = outbox::PublishEvents(client.get(), escaped);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(batch_requests() - before, 1 + 6) << "4.2 MB of JSON is split under 1 MiB";

  std::vector<BrokerMessage> got;
  uint64_t from = 0;
  for (;;) {
    std::vector<BrokerMessage> page;
    uint64_t next = from;
    ASSERT_TRUE(client->Read("split", from, 500, &page, &next).ok());
    if (page.empty()) break;
    got.insert(got.end(), page.begin(), page.end());
    from = next;
  }
  ASSERT_EQ(got.size(), small.size() + escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    const BrokerMessage& m = got[small.size() + i];
    EXPECT_EQ(m.id, escaped[i].event_id);
    EXPECT_EQ(m.payload, escaped[i].payload) << m.id << " must round-trip byte-exact";
  }
}

// `outbox relay --trace` records what the relay actually ran: the claim
// statement with its parameters in place and its command tag, the broker
// call, COMMIT; a batch that found nothing leaves no trace.
TEST_F(OutboxTest, TracedBatchesShowTheStatementsRun) {
  {
    std::unique_ptr<outbox::OutboxWriter> writer;
    ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(1), &writer).ok());
    EXPECT_EQ(Write(writer.get(), 3, 1).committed, 3u);
  }
  Trace trace(100, "relay");
  outbox::RelayOptions ro = Relay(outbox::Strategy::kSkipLocked, /*batch=*/2);
  ro.trace = &trace;
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  RelayThread relay(ro, rn);
  EXPECT_EQ(relay.Join().published, 3u);

  std::string claim = std::string(outbox::kSkipLockedClaimSql);
  claim.replace(claim.find("$1"), 2, "2");
  std::vector<std::string> lines;
  for (const Trace::Event& e : trace.Events()) {
    if (e.kind == Trace::Kind::kNote) continue;
    std::string what = e.what;
    const bool send = e.kind == Trace::Kind::kSend;
    if ((!send && what.starts_with("DELETE ")) || (send && what.starts_with("POST "))) {
      what = what.substr(0, what.find(" ("));  // which ids: the writer's draw
    }
    lines.push_back(e.id.substr(e.id.find('.')) + (send ? " -> " : " <- ") + e.actor + ": " + what);
  }
  const std::vector<std::string> want = {
      ".b1 -> postgres: BEGIN",
      ".b1 -> postgres: " + claim,
      ".b1 <- postgres: DELETE 2",
      ".b1 -> broker: POST /topics/orders/batch: 2 messages",
      ".b1 <- broker: 200: stored durably",
      ".b1 -> postgres: COMMIT",
      ".b1 <- postgres: committed: the rows are gone",
      ".b2 -> postgres: BEGIN",
      ".b2 -> postgres: " + claim,
      ".b2 <- postgres: DELETE 1",
      ".b2 -> broker: POST /topics/orders/batch: 1 message",
      ".b2 <- broker: 200: stored durably",
      ".b2 -> postgres: COMMIT",
      ".b2 <- postgres: committed: the rows are gone",
  };
  EXPECT_EQ(lines, want);
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
