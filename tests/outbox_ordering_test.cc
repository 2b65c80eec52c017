// Order per key with several events per order (2,000 orders x 3 events, 4
// writers), judged by verify's order check (workload/order_check.h):
//  - skip-locked with K = 3 and no partitioning REORDERS a key under a forced
//    interleaving: one instance has claimed the first row (an OrderPlaced)
//    and is mid-publish; the other two skip its locked row and send that
//    order's OrderPaid and OrderPacked; then the first one's publish fails and
//    its row comes back and is sent last;
//  - with --partition-by key, the same interleaving reorders nothing: the
//    held row's partition waits for it, and the other partitions never touch
//    its key; nor does a relay PROCESS SIGKILLed mid-batch and restarted,
//    nor a 5 s broker outage during the load;
//  - offset-safe and cdc with one instance keep order.
#include <signal.h>

#include <gtest/gtest.h>

#include "common/process.h"
#include "outbox/key_partitions.h"
#include "outbox/relay.h"
#include "outbox/relay_skip_locked.h"
#include "outbox/schema.h"
#include "participants/broker_client.h"
#include "tests/support/outbox_test_util.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kOrders = 2000;
constexpr int kEvents = 3;
constexpr int kWriters = 4;

class OrderingTest : public OutboxTest {
 protected:
  // A writer of kEvents events per order; it holds the writers' lock (a
  // relay with until_drained waits for it) until destroyed.
  std::unique_ptr<outbox::OutboxWriter> OpenWriter() {
    outbox::WriterOptions wo = Writer(kWriters);
    wo.events_per_order = kEvents;
    std::unique_ptr<outbox::OutboxWriter> writer;
    Status s = outbox::OutboxWriter::Open(wo, &writer);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return writer;
  }

  void WriteOrders(outbox::OutboxWriter* writer) {
    ASSERT_NE(writer, nullptr);
    EXPECT_EQ(Write(writer, kOrders, kWriters).committed, static_cast<uint64_t>(kOrders));
  }

  void WriteOrders() { WriteOrders(OpenWriter().get()); }

  std::unique_ptr<outbox::Relay> StartedRelay(const outbox::RelayOptions& ro) {
    std::unique_ptr<outbox::Relay> r;
    Status s = outbox::CreateRelay(ro, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!r) return r;
    s = r->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  // Every event delivered once, and the order check's verdict.
  workload::VerifyReport VerifyAll() {
    workload::VerifyReport v = Verify();
    EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
    EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders * kEvents));
    EXPECT_EQ(v.multi_event_keys, static_cast<uint64_t>(kOrders));
    EXPECT_TRUE(v.missing.empty() && v.orphans.empty() && v.duplicates.empty()) << v.ToText(20);
    EXPECT_TRUE(v.gaps.empty() && v.ahead.empty()) << v.ToText(20);
    return v;
  }

  // Writes the orders with `writer` while one relay of `strategy` runs until
  // drained, then checks every event arrived once and in order per key. The
  // writer is opened first (the relay must not find "no writer, nothing to
  // send" before the first order) and holds the writers' lock until it is gone.
  void WriteAndDrainInOrder(std::unique_ptr<outbox::OutboxWriter> writer,
                            outbox::Strategy strategy) {
    ASSERT_NE(writer, nullptr);
    outbox::RunnerOptions rn;
    rn.until_drained = true;
    RelayThread relay(Relay(strategy), rn);
    WriteOrders(writer.get());
    writer.reset();
    const outbox::RelayReport& report = relay.Join();
    EXPECT_TRUE(report.drained) << report.ToText();
    workload::VerifyReport v = VerifyAll();
    EXPECT_TRUE(v.reordered.empty()) << v.ToText(20);
    EXPECT_TRUE(v.ok()) << v.ToText(20);
  }

  // The forced interleaving. `holder` claims the first row by id with the
  // claim of instance `held` (an OrderPlaced: the first event written), as
  // that instance would at the start of its batch, and keeps its lock;
  // `others` pump meanwhile; then the holder's publish "fails" (ROLLBACK:
  // the row comes back) and `last` pumps. Returns the held row's key.
  std::string Interleave(const std::string& claim_sql, const std::string& buckets,
                         const std::vector<outbox::Relay*>& others, outbox::Relay* last) {
    pqxx::connection holder{dsn_};
    pqxx::work tx{holder};
    pqxx::result held =
        buckets.empty() ? tx.exec_params(claim_sql, 1) : tx.exec_params(claim_sql, 1, buckets);
    EXPECT_EQ(held.size(), 1u);
    if (held.empty()) return "";
    const std::string key = held[0][3].as<std::string>();
    EXPECT_EQ(held[0][2].as<std::string>(), "order-" + key);  // event 1 of its order
    for (outbox::Relay* r : others) Pump(r);
    tx.abort();
    Pump(last);
    return key;
  }
};

TEST_F(OrderingTest, SkipLockedWithThreeInstancesReordersAKey) {
  WriteOrders();
  auto a = StartedRelay(Relay(outbox::Strategy::kSkipLocked));
  auto b = StartedRelay(Relay(outbox::Strategy::kSkipLocked));
  auto c = StartedRelay(Relay(outbox::Strategy::kSkipLocked));
  ASSERT_TRUE(a && b && c);
  const std::string key = Interleave(outbox::kSkipLockedClaimSql, "", {b.get(), c.get()}, a.get());
  workload::VerifyReport v = VerifyAll();
  EXPECT_FALSE(v.ok());
  ASSERT_GE(v.reordered.size(), 1u) << v.ToText(20);
  bool named = false;
  for (const auto& inv : v.reordered) {
    if (std::to_string(inv.order) != key) continue;
    named = true;
    EXPECT_EQ(inv.version, 1);  // OrderPlaced read after a later event of its order
    EXPECT_GT(inv.later_version, 1);
    EXPECT_LT(inv.later_offset, inv.offset);
  }
  EXPECT_TRUE(named) << "the held order " << key << " is not among the reordered: " << v.ToText(20);
}

TEST_F(OrderingTest, PartitionByKeyKeepsOrderUnderTheSameInterleaving) {
  WriteOrders();
  ASSERT_TRUE(outbox::EnsureKeyPartitionIndex(dsn_, 3, /*mark_sent=*/false).ok());
  // Which partition the first row's key falls in decides who holds it.
  const std::string first_key = [&] {
    pqxx::connection c{dsn_};
    pqxx::nontransaction tx{c};
    return tx.exec1("SELECT msg_key FROM outbox_table ORDER BY id LIMIT 1")[0].as<std::string>();
  }();
  int held = 0;
  ASSERT_TRUE(outbox::KeyPartitionOf(dsn_, first_key, 3, &held).ok());
  std::vector<std::unique_ptr<outbox::Relay>> relays;
  for (int i = 0; i < 3; ++i) {
    outbox::RelayOptions ro = Relay(outbox::Strategy::kSkipLocked);
    ro.key_partitions = 3;
    ro.key_partition = i;
    relays.push_back(StartedRelay(ro));
    ASSERT_TRUE(relays.back());
  }
  // The held partition's own instance runs DURING the hold too: it must
  // wait for the held row, not skip past it to the order's later events.
  std::vector<outbox::Relay*> others;
  for (int i = 0; i < 3; ++i) {
    if (i != held) others.push_back(relays[i].get());
  }
  pqxx::connection holder{dsn_};
  pqxx::work tx{holder};
  pqxx::result r = tx.exec_params(outbox::kSkipLockedClaimSql, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0][3].as<std::string>(), first_key);
  for (outbox::Relay* o : others) Pump(o);
  int64_t moved_by_held = 0;
  std::thread waiter([&] { moved_by_held = Pump(relays[held].get()); });
  // Until its claim waits on the held row's lock (or it already finished).
  for (int i = 0; i < 200; ++i) {
    if (SqlInt(dsn_,
               "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
               " WHERE NOT l.granted AND a.datname = current_database()") > 0) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  tx.abort();  // the holder's publish failed: its row comes back first in line
  waiter.join();
  Pump(relays[held].get());
  EXPECT_GT(moved_by_held, 0);
  workload::VerifyReport v = VerifyAll();
  EXPECT_TRUE(v.reordered.empty()) << v.ToText(20);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

TEST_F(OrderingTest, PartitionByKeyKeepsOrderAcrossARelayKill) {
  WriteOrders();
  // A drain of at least 4 s (3 instances, batches of 20, 40 ms a publish):
  // the loop below sees a quarter of it published with seconds to spare,
  // even when a loaded host keeps this thread waiting.
  BrokerFaults(R"({"latency_ms": 40})");
  const std::string log = TempDir("ordering-kill") + "/relay.log";
  auto spawn = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--strategy",     "skip-locked", "--instances",        "3",
                                     "--partition-by", "key",         "--poll-interval-ms", "200"};
    args.insert(args.end(), extra.begin(), extra.end());
    return SpawnRelayCli(args, log);
  };
  pid_t pid = spawn({"--batch", "20"});
  const uint64_t total = kOrders * kEvents;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  uint64_t seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = BrokerCount();
    if (seen >= total / 4) break;
    ASSERT_TRUE(ProcessAlive(pid)) << "relay exited early; see " << log;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_GE(seen, total / 4) << "see " << log;
  // Hold the relay's next publishes in the broker, then kill it with batches
  // in flight: the kill lands mid-drain however late this loop saw the count.
  BrokerFaults(R"({"latency_ms": 3000})");
  std::this_thread::sleep_for(100ms);
  kill(pid, SIGKILL);
  WaitChild(pid, 10s);
  BrokerFaults(R"({"latency_ms": 0})");
  EXPECT_LT(BrokerCount(), total) << "the kill should land mid-drain";
  pid = spawn({"--batch", "100", "--until-drained"});
  auto status = WaitChild(pid, 120s);
  ASSERT_TRUE(status.has_value()) << "the restarted relay did not drain; see " << log;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "see " << log;
  workload::VerifyReport v = VerifyAll();
  EXPECT_TRUE(v.reordered.empty()) << v.ToText(20);
  EXPECT_TRUE(v.ok()) << v.ToText(20) << "see " << log;
}

TEST_F(OrderingTest, PartitionByKeyKeepsOrderAcrossABrokerOutage) {
  std::unique_ptr<outbox::OutboxWriter> writer = OpenWriter();
  outbox::RunnerOptions rn;
  rn.instances = 3;
  rn.partition_by_key = true;
  rn.until_drained = true;
  outbox::RelayOptions ro = Relay(outbox::Strategy::kSkipLocked);
  ro.broker_timeout = 1000ms;
  RelayThread relay(ro, rn);
  // The broker refuses everything for 5 s, starting while the orders are
  // being written: every instance's publishes fail and roll back meanwhile.
  std::thread outage([&] {
    std::this_thread::sleep_for(300ms);
    BrokerFaults(R"({"down_for_ms": 5000})");
  });
  WriteOrders(writer.get());
  writer.reset();
  outage.join();
  const outbox::RelayReport& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  workload::VerifyReport v = VerifyAll();
  EXPECT_TRUE(v.reordered.empty()) << v.ToText(20);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

// A poison event: one row whose message the broker can never take (its
// payload is over the broker's 1 MiB request limit, so every batch carrying it
// is refused with 413 and rolled back, again and again). With
// --partition-by key it holds back its own partition from its batch on, and
// nothing else: the two other partitions drain completely, and no later
// event of the poisoned key overtakes it. Once the row is repaired, the
// partition drains in order.
TEST_F(OrderingTest, APoisonEventHoldsBackOnlyItsOwnPartition) {
  WriteOrders();
  // Event 2 of an order in the middle of the backlog.
  const int64_t poison = SqlInt(dsn_,
                                "SELECT id FROM outbox_table WHERE event_id LIKE 'order-%-2'"
                                " ORDER BY id OFFSET 1000 LIMIT 1");
  const std::string key = [&] {
    pqxx::connection c{dsn_};
    pqxx::nontransaction tx{c};
    return tx.exec1("SELECT msg_key FROM outbox_table WHERE id = " + std::to_string(poison))[0]
        .as<std::string>();
  }();
  const std::string where_poison = " WHERE id = " + std::to_string(poison);
  const std::string original = [&] {
    pqxx::connection c{dsn_};
    pqxx::nontransaction tx{c};
    return tx.exec1("SELECT payload FROM outbox_table" + where_poison)[0].as<std::string>();
  }();
  Sql(dsn_, "UPDATE outbox_table SET payload = repeat('x', 2 * 1024 * 1024)" + where_poison);
  int held = 0;
  ASSERT_TRUE(outbox::KeyPartitionOf(dsn_, key, 3, &held).ok());
  const std::string in_held = "(hashtext(msg_key) & 1023) % 3 = " + std::to_string(held);
  const std::string from_poison = " AND id >= " + std::to_string(poison);
  const int64_t held_rows =
      SqlInt(dsn_, "SELECT count(*) FROM outbox_table WHERE " + in_held + from_poison);

  outbox::RunnerOptions rn;
  rn.instances = 3;
  rn.partition_by_key = true;
  RelayThread relay(Relay(outbox::Strategy::kSkipLocked), rn);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  int64_t others_left = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    others_left = SqlInt(dsn_, "SELECT count(*) FROM outbox_table WHERE NOT " + in_held);
    if (others_left == 0) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(others_left, 0) << "the other partitions did not drain beside the poison";
  std::this_thread::sleep_for(1s);  // the poisoned partition retries meanwhile
  // Left: every row of the held partition from the poison on, and at most
  // the rest of the poison's batch before it; nothing of the others.
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table WHERE " + in_held + from_poison),
            held_rows);
  EXPECT_GT(held_rows, 100);
  const int64_t left = SqlInt(dsn_, "SELECT count(*) FROM outbox_table");
  EXPECT_LT(left - held_rows, 100) << "more than the poison's batch is held before it";
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table WHERE NOT " + in_held), 0);
  // No later event of the poisoned key went out.
  EXPECT_EQ(
      SqlInt(dsn_, "SELECT count(*) FROM outbox_table WHERE msg_key = '" + key + "'" + from_poison),
      kEvents - 1);
  // The broker has every row deleted, and perhaps some of the poison's batch
  // ahead of it: a refused batch may have been stored in part (the publisher's
  // contract), and the broker keeps each event id once.
  const uint64_t stored = BrokerCount();
  EXPECT_GE(stored, static_cast<uint64_t>(kOrders * kEvents - left));
  EXPECT_LE(stored, static_cast<uint64_t>(kOrders * kEvents - held_rows));

  // Repaired (the operator's fix of a poison message): the partition drains.
  {
    pqxx::connection c{dsn_};
    pqxx::nontransaction tx{c};
    tx.exec_params("UPDATE outbox_table SET payload = $1" + where_poison, original);
  }
  deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline &&
         SqlInt(dsn_, "SELECT count(*) FROM outbox_table") > 0) {
    std::this_thread::sleep_for(50ms);
  }
  relay.Stop();
  relay.Join();
  workload::VerifyReport v = VerifyAll();
  EXPECT_TRUE(v.reordered.empty()) << v.ToText(20);
}

class OneInstanceOrder : public OrderingTest,
                         public ::testing::WithParamInterface<outbox::Strategy> {};

TEST_P(OneInstanceOrder, KeepsOrderPerKey) { WriteAndDrainInOrder(OpenWriter(), GetParam()); }

INSTANTIATE_TEST_SUITE_P(Relays, OneInstanceOrder,
                         ::testing::Values(outbox::Strategy::kOffsetSafe, outbox::Strategy::kCdc),
                         [](const ::testing::TestParamInfo<outbox::Strategy>& i) {
                           return std::string(i.param == outbox::Strategy::kCdc ? "Cdc"
                                                                                : "OffsetSafe");
                         });

// The capture trigger (`outbox write --trigger`) writes events 2..E too: the
// writer's UPDATE of the version alone, the AFTER UPDATE trigger the event's
// row. One relay delivers every event once, in order per key.
TEST_F(OrderingTest, TheCaptureTriggerWritesEventsTwoToEInOrder) {
  outbox::WriterOptions wo = Writer(kWriters);
  wo.events_per_order = kEvents;
  wo.trigger = true;
  std::unique_ptr<outbox::OutboxWriter> writer;
  Status s = outbox::OutboxWriter::Open(wo, &writer);
  ASSERT_TRUE(s.ok()) << s.ToString();
  WriteAndDrainInOrder(std::move(writer), outbox::Strategy::kSkipLocked);
  // An UPDATE that does not raise the version writes no event.
  Sql(dsn_, "UPDATE orders SET status = status WHERE id = (SELECT min(id) FROM orders)");
  pqxx::connection c{dsn_};
  pqxx::nontransaction tx{c};
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM outbox_table")[0].as<int64_t>(), 0);
  ASSERT_TRUE(outbox::RemoveCaptureTrigger(dsn_).ok());
}

TEST_F(OrderingTest, PartitionByKeyIsRefusedByOtherStrategies) {
  outbox::RelayOptions ro = Relay(outbox::Strategy::kStatus);
  ro.key_partitions = 3;
  std::unique_ptr<outbox::Relay> r;
  EXPECT_FALSE(outbox::CreateRelay(ro, &r).ok());
  outbox::RunnerOptions rn;
  rn.instances = 3;
  rn.partition_by_key = true;
  outbox::RelayReport report;
  EXPECT_FALSE(outbox::RunRelays(Relay(outbox::Strategy::kOffsetSafe), rn, &report).ok());
}

}  // namespace
}  // namespace dw::testing
