// Events 2..E of an order under 2PC (`--events-per-order`): an event whose
// UPDATE does not find its order at version n-1 is aborted, never published.
//
// With `--ack-after decision` the worker is answered once the decision is
// durable, before COMMIT PREPARED: the next event's UPDATE can run while the
// previous transaction is still prepared. For event 2 the order's INSERT is
// then invisible, the UPDATE changes no row, and without the expect_rows
// check its message would still have been published, ahead of the row's
// version (verify's "ahead").
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "coordinator/coordinator.h"
#include "coordinator/order_work.h"
#include "coordinator/participant_spec.h"
#include "coordinator/pg_decision_log.h"
#include "tests/support/coordinator_test_util.h"
#include "workload/order_events.h"
#include "workload/orders.h"

namespace dw::coord {
namespace {

std::vector<BrokerMessage> ReadOrdersTopic(BrokerClient& client) {
  std::vector<BrokerMessage> all;
  uint64_t from = 0;
  for (;;) {
    std::vector<BrokerMessage> batch;
    uint64_t next = 0;
    EXPECT_TRUE(client.Read("orders", from, 1000, &batch, &next).ok());
    if (batch.empty()) break;
    all.insert(all.end(), batch.begin(), batch.end());
    from = next;
  }
  return all;
}

TEST_F(CoordEnv, AnEventWhoseOrderIsNotAtTheVersionBeforeIsAbortedNotPublished) {
  ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
  ASSERT_TRUE(workload::EnsureOrderVersionColumns(dsn_).ok());
  // Order 1's INSERT stays prepared: what event 2 meets when the worker was
  // acknowledged after the decision and COMMIT PREPARED has not run yet.
  {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    tx.exec(
        "BEGIN; INSERT INTO orders (id, customer, amount_cents) VALUES (1, 'alice', 100); "
        "PREPARE TRANSACTION 'held-order-1'");
  }
  std::vector<ParticipantSpec> specs = {{ParticipantSpec::Kind::kPostgres, dsn_},
                                        {ParticipantSpec::Kind::kBroker, broker_->url()}};
  BuildOptions bo;
  bo.timeout = milliseconds(30000);
  Built built;
  ASSERT_TRUE(BuildMembers(specs, bo, &built).ok());
  PgDecisionLog::Options lo;
  lo.dsn = dsn_;
  lo.coordinator_id = "ev";
  std::unique_ptr<PgDecisionLog> log;
  ASSERT_TRUE(PgDecisionLog::Open(lo, &log).ok());
  CoordinatorOptions co;
  co.id = "ev";
  co.recovery_interval = milliseconds(0);
  std::unique_ptr<Coordinator> c;
  ASSERT_TRUE(Coordinator::Create(co, built.members, std::move(log), &c).ok());

  TxnResult r = c->Execute(OrderEventWork(1, 2, built.topology));
  EXPECT_EQ(r.outcome, TxnOutcome::kAborted);
  EXPECT_TRUE(r.status.IsAborted()) << r.status.ToString();
  EXPECT_NE(r.status.message().find("changed 0 rows, not 1"), std::string::npos)
      << r.status.ToString();
  EXPECT_TRUE(ReadOrdersTopic(*Client()).empty());
  EXPECT_TRUE(PreparedAtBroker().empty());
  EXPECT_EQ(PreparedAtPostgres(), std::set<std::string>{"held-order-1"});

  {
    pqxx::connection conn(dsn_);
    pqxx::nontransaction tx(conn);
    tx.exec("COMMIT PREPARED 'held-order-1'");
  }
  // Event 3 before event 2 skips a version: aborted too.
  r = c->Execute(OrderEventWork(1, 3, built.topology));
  EXPECT_EQ(r.outcome, TxnOutcome::kAborted) << r.status.ToString();
  // Event 2 on the committed order goes through, once.
  r = c->Execute(OrderEventWork(1, 2, built.topology));
  EXPECT_EQ(r.outcome, TxnOutcome::kCommitted) << r.status.ToString();
  r = c->Execute(OrderEventWork(1, 2, built.topology));
  EXPECT_EQ(r.outcome, TxnOutcome::kAborted) << r.status.ToString();
  c.reset();

  EXPECT_EQ(Count("SELECT version FROM orders WHERE id = 1"), 2);
  std::vector<BrokerMessage> sent = ReadOrdersTopic(*Client());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].id, workload::OrderEventMessageId(1, 2));
  EXPECT_TRUE(PreparedAtPostgres().empty());
  EXPECT_TRUE(PreparedAtBroker().empty());
}

// The CLI under --ack-after decision, where the race is real: however many
// later events met an invisible order, none of them was published ahead of
// its row, and the run counts them (later_events_failed).
TEST_F(CoordEnv, AckAfterDecisionNeverPublishesAnEventAheadOfItsRow) {
  DwRun r = Dw({"2pc", "run", "-n", "200", "-c", "4", "--events-per-order", "3", "--ack-after",
                "decision", "--coordinator-id", "ad", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  ASSERT_TRUE(r.json.contains("later_events_failed")) << r.out;
  const int64_t failed = r.json["later_events_failed"].get<int64_t>();
  workload::VerifyReport v = Verify();
  EXPECT_TRUE(v.ahead.empty()) << v.ToText(20);
  EXPECT_TRUE(v.reordered.empty()) << v.ToText(20);
  EXPECT_TRUE(v.gaps.empty()) << v.ToText(20);
  EXPECT_TRUE(v.missing.empty() && v.orphans.empty()) << v.ToText(20);
  EXPECT_EQ(v.rows, 200u);
  // Every order whose chain stopped early is one counted failure, and the
  // committed orders are exactly those that reached version 3.
  EXPECT_EQ(Count("SELECT count(*) FROM orders WHERE version < 3"), failed);
  EXPECT_EQ(Count("SELECT count(*) FROM orders WHERE version = 3"),
            r.json["committed"].get<int64_t>());
  EXPECT_EQ(v.messages,
            3 * 200u - static_cast<uint64_t>(Count("SELECT sum(3 - version) FROM orders")));
}

// Orders driven 4 per thread in lockstep (--batch): each order's events
// still follow one another, every one committed and published in order.
TEST_F(CoordEnv, BatchedOrdersPublishEveryEventInOrder) {
  DwRun r = Dw({"2pc", "run", "-n", "200", "-c", "8", "--batch", "4", "--events-per-order", "3",
                "--coordinator-id", "be", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  EXPECT_EQ(r.json["committed"], 200) << r.out;
  EXPECT_EQ(r.json["later_events_failed"], 0) << r.out;
  EXPECT_EQ(r.json["batch"], 4) << r.out;
  workload::VerifyReport v = Verify();
  EXPECT_TRUE(v.ahead.empty() && v.reordered.empty() && v.gaps.empty()) << v.ToText(20);
  EXPECT_TRUE(v.missing.empty() && v.orphans.empty()) << v.ToText(20);
  EXPECT_EQ(v.rows, 200u);
  EXPECT_EQ(v.messages, 600u);
  EXPECT_EQ(Count("SELECT count(*) FROM orders WHERE version = 3"), 200);
}

}  // namespace
}  // namespace dw::coord
