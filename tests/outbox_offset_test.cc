// The offset strategies, deterministically:
//  - offset-naive LOSES a message when a transaction commits after a later
//    one was already relayed (two writer connections, forced interleaving),
//    and verify names the missing key; by id and by time;
//  - offset-safe, under the same interleaving, loses nothing;
//  - offset-safe stalls while a transaction stays open (or prepared), and
//    catches up once it ends.
#include <gtest/gtest.h>

#include "outbox/partitions.h"
#include "outbox/relay.h"
#include "outbox/schema.h"
#include "tests/support/outbox_test_util.h"
#include "workload/orders.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

class OffsetTest : public OutboxTest {
 protected:
  void SetUp() override {
    OutboxTest::SetUp();
    ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
    ASSERT_TRUE(outbox::EnsureSchema(dsn_).ok());
    outbox::MaintenanceReport mr;
    ASSERT_TRUE(outbox::MaintainPartitions(dsn_, outbox::PartitionOptions{}, &mr).ok());
  }

  // The writer's two inserts, inside the caller's transaction.
  static void PlaceOrder(pqxx::transaction_base& tx, int64_t order_id) {
    workload::Order o = workload::MakeOrder(order_id, order_id, 1);
    SqlStatement ins = workload::InsertOrderStatement(o);
    tx.exec_params(ins.sql, *ins.params[0], *ins.params[1], *ins.params[2]);
    OutMessage m = workload::OrderPlacedMessage(o);
    tx.exec_params(
        "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload)"
        " VALUES ('order', $1, $2, $3, $4)",
        m.id, m.topic, m.key, m.payload);
  }

  std::unique_ptr<outbox::Relay> StartedRelay(outbox::Strategy s, bool by_time = false) {
    outbox::RelayOptions ro = Relay(s);
    ro.by_time = by_time;
    std::unique_ptr<outbox::Relay> r;
    EXPECT_TRUE(outbox::CreateRelay(ro, &r).ok());
    Status st = r->Start();
    EXPECT_TRUE(st.ok()) << st.ToString();
    return r;
  }

  // Pumps until `want` events moved or the deadline (other sessions of the
  // shared cluster may hold the xmin horizon for a moment).
  static int64_t PumpUntil(outbox::Relay* r, int64_t want, std::chrono::seconds deadline = 60s) {
    int64_t total = 0;
    auto end = std::chrono::steady_clock::now() + deadline;
    while (total < want && std::chrono::steady_clock::now() < end) {
      total += Pump(r);
      if (total < want) std::this_thread::sleep_for(50ms);
    }
    return total;
  }

  // The forced interleaving: A inserts first (lower id, earlier now()) but
  // commits last; B inserts and commits in between; the relay runs while A
  // is still open, and again after.
  void Interleave(outbox::Relay* relay, int64_t* moved_while_open, int64_t* moved_after) {
    pqxx::connection a{dsn_};
    pqxx::connection b{dsn_};
    pqxx::work ta{a};
    PlaceOrder(ta, 1);                 // outbox id N, created_dttm = A's start
    std::this_thread::sleep_for(5ms);  // B's now() strictly later
    {
      pqxx::work tb{b};
      PlaceOrder(tb, 2);  // outbox id N+1
      tb.commit();
    }
    *moved_while_open = Pump(relay);
    ta.commit();
    *moved_after = Pump(relay);
  }
};

TEST_F(OffsetTest, NaiveByIdLosesTheEarlierIdThatCommitsLater) {
  auto relay = StartedRelay(outbox::Strategy::kOffsetNaive);
  int64_t during = 0, after = 0;
  Interleave(relay.get(), &during, &after);
  EXPECT_EQ(during, 1);  // B's row, and the counter moved past A's id
  EXPECT_EQ(after, 0);   // A's row is behind the counter: never read
  workload::VerifyReport v = Verify();
  EXPECT_FALSE(v.ok());
  ASSERT_EQ(v.missing.size(), 1u) << v.ToText(20);
  EXPECT_EQ(v.missing[0], 1);  // verify names the lost order
  EXPECT_TRUE(v.orphans.empty());
  EXPECT_TRUE(v.duplicates.empty());
}

TEST_F(OffsetTest, NaiveByTimeLosesTheEarlierStartThatCommitsLater) {
  auto relay = StartedRelay(outbox::Strategy::kOffsetNaive, /*by_time=*/true);
  int64_t during = 0, after = 0;
  Interleave(relay.get(), &during, &after);
  EXPECT_EQ(during, 1);
  EXPECT_EQ(after, 0);
  workload::VerifyReport v = Verify();
  ASSERT_EQ(v.missing.size(), 1u) << v.ToText(20);
  EXPECT_EQ(v.missing[0], 1);
}

TEST_F(OffsetTest, SafeLosesNothingUnderTheSameInterleaving) {
  auto relay = StartedRelay(outbox::Strategy::kOffsetSafe);
  int64_t during = 0, after = 0;
  Interleave(relay.get(), &during, &after);
  // While A is open its xid holds the horizon: B's newer row must wait.
  EXPECT_EQ(during, 0);
  if (after < 2) after += PumpUntil(relay.get(), 2 - after);
  EXPECT_EQ(after, 2);
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 2u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

TEST_F(OffsetTest, SafeStallsUnderAnOpenTransactionAndNamesIt) {
  auto relay = StartedRelay(outbox::Strategy::kOffsetSafe);
  pqxx::connection holder{dsn_};
  pqxx::work open_tx{holder};
  open_tx.exec("SELECT pg_current_xact_id()");  // an xid: the horizon stops here
  {
    std::unique_ptr<outbox::OutboxWriter> writer;
    ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(4), &writer).ok());
    EXPECT_EQ(Write(writer.get(), 100, 4).committed, 100u);
  }
  EXPECT_EQ(Pump(relay.get()), 0);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Pump(relay.get()), 0) << "rows newer than an open transaction must wait";
  bool drained = true;
  ASSERT_TRUE(relay->Drained(&drained).ok());
  EXPECT_FALSE(drained);
  // Housekeeping reports the stall once it lasted 5 s, naming the session.
  std::string warning;
  ASSERT_TRUE(relay->Housekeeping(&warning).ok());
  std::this_thread::sleep_for(5500ms);
  ASSERT_TRUE(relay->Housekeeping(&warning).ok());
  EXPECT_NE(warning.find("offset-safe stalled"), std::string::npos) << warning;
  EXPECT_NE(warning.find("pid " + std::to_string(holder.backendpid())), std::string::npos)
      << warning;

  open_tx.commit();
  EXPECT_EQ(PumpUntil(relay.get(), 100), 100);
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 100u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

TEST_F(OffsetTest, SafeStallsUnderAPreparedTransaction) {
  auto relay = StartedRelay(outbox::Strategy::kOffsetSafe);
  const std::string gid = "dw-outbox-stall-" + db_;
  {
    pqxx::connection c{dsn_};
    pqxx::nontransaction tx{c};
    tx.exec("BEGIN");
    tx.exec("SELECT pg_current_xact_id()");
    tx.exec("PREPARE TRANSACTION " + tx.quote(gid));
  }  // the session is gone; the prepared transaction stays
  {
    std::unique_ptr<outbox::OutboxWriter> writer;
    ASSERT_TRUE(outbox::OutboxWriter::Open(Writer(4), &writer).ok());
    EXPECT_EQ(Write(writer.get(), 50, 4).committed, 50u);
  }
  EXPECT_EQ(Pump(relay.get()), 0);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Pump(relay.get()), 0) << "a prepared transaction holds the horizon like an open one";
  Sql(dsn_, "COMMIT PREPARED " + pqxx::connection{dsn_}.quote(gid));
  EXPECT_EQ(PumpUntil(relay.get(), 50), 50);
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 50u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

// Positions compare xids as numbers: rows of xid 9 go before rows of xid 10
// (a text sort would put "10" first and then skip xid 9 as "behind").
TEST_F(OffsetTest, SafeOrdersByXidNumerically) {
  {
    pqxx::connection c{dsn_};
    pqxx::work tx{c};
    for (int64_t id : {1, 2}) {
      workload::Order o = workload::MakeOrder(id, id, 1);
      SqlStatement ins = workload::InsertOrderStatement(o);
      tx.exec_params(ins.sql, *ins.params[0], *ins.params[1], *ins.params[2]);
      OutMessage m = workload::OrderPlacedMessage(o);
      // Hand-set xids, both long finished: order 1 in "xid 10", order 2 in "xid 9".
      tx.exec_params(
          "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload, txid)"
          " VALUES ('order', $1, $2, $3, $4, $5::xid8)",
          m.id, m.topic, m.key, m.payload, id == 1 ? "10" : "9");
    }
    tx.commit();
  }
  outbox::RelayOptions ro = Relay(outbox::Strategy::kOffsetSafe, /*batch=*/1);
  std::unique_ptr<outbox::Relay> relay;
  ASSERT_TRUE(outbox::CreateRelay(ro, &relay).ok());
  ASSERT_TRUE(relay->Start().ok());
  int64_t moved = 0;
  ASSERT_TRUE(relay->Step(&moved).ok());
  ASSERT_EQ(moved, 1);
  EXPECT_EQ(SqlInt(dsn_,
                   "SELECT counter_xid::text::bigint FROM outbox_counter"
                   " WHERE counter_key = 'offset-safe'"),
            9);
  EXPECT_EQ(PumpUntil(relay.get(), 1), 1);
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 2u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

}  // namespace
}  // namespace dw::testing
