// The cdc relay reading its slot with SQL (`--cdc-read sql`,
// outbox/cdc_sql_reader.h) over the outbox without a table
// (outbox/emit_message.h), against a real Postgres and a real broker:
//  - 10,000 orders from 8 writers with the relay running, read in chunks of
//    a few hundred changes (so the slot is advanced many times): verify
//    clean, and the broker holds the events in commit order;
//  - the relay (the real CLI) SIGKILLed in the middle of a chunk, with one
//    batch in flight and the chunk's rest in hand: a new relay loses nothing
//    and keeps commit order (the broker dedupes what was published twice);
//  - the same with chunks of 300 changes (read one ahead from a temporary
//    copy of the slot): the slot never passes what the broker holds, and
//    the copy dies with the killed relay's session;
//  - a transaction that emits first and commits last is delivered after the
//    one that committed before it, and a rolled-back one never;
//  - the table outbox's rows, before the slot (its initial copy) and after.
// Commit order is what a second slot made before the writes decodes: the
// order of its messages, read once at the end.
#include <csignal>

#include <gtest/gtest.h>

#include "outbox/emit_message.h"
#include "outbox/pgoutput.h"
#include "outbox/relay.h"
#include "outbox/schema.h"
#include "tests/support/outbox_test_util.h"
#include "workload/orders.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

class EmitSqlTest : public OutboxTest {
 protected:
  void SetUp() override {
    OutboxTest::SetUp();
    ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
    ASSERT_TRUE(outbox::EnsureSchema(dsn_).ok());  // the publication names outbox_table
    // The relay's first Start makes its slot; the writer refuses to emit
    // before one exists. The witness slot comes before any write too.
    std::unique_ptr<outbox::Relay> r;
    ASSERT_TRUE(outbox::CreateRelay(SqlRelay(), &r).ok());
    Status s = r->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    witness_ = "chk_" + db_;
    Sql(dsn_, "SELECT pg_create_logical_replication_slot('" + witness_ + "', 'pgoutput')");
  }

  outbox::RelayOptions SqlRelay(int batch = 100) const {
    outbox::RelayOptions ro = Relay(outbox::Strategy::kCdc, batch);
    ro.cdc_read = outbox::RelayOptions::CdcRead::kSql;
    return ro;
  }

  struct Committed {
    std::string id;
    uint64_t end_lsn;  // its transaction's commit end
  };

  // The event ids in commit order: the witness slot's messages.
  std::vector<std::string> CommitOrder() {
    std::vector<std::string> ids;
    for (auto& c : Commits()) ids.push_back(c.id);
    return ids;
  }

  std::vector<Committed> Commits() {
    pqxx::connection c{dsn_};
    pqxx::nontransaction tx{c};
    auto rows = tx.exec_params(
        "SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', "
        "'1', 'publication_names', 'dw_outbox_pub', 'messages', 'true')",
        witness_);
    outbox::pgoutput::Decoder d;
    std::vector<Committed> ids;
    size_t txn_start = 0;
    for (const auto& row : rows) {
      pqxx::binarystring bytes(row[0]);
      outbox::pgoutput::Message m;
      Status s = d.Decode(std::string_view(bytes.get(), bytes.size()), &m);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (m.kind == outbox::pgoutput::Message::Kind::kBegin) txn_start = ids.size();
      if (m.kind == outbox::pgoutput::Message::Kind::kCommit) {
        for (size_t i = txn_start; i < ids.size(); ++i) ids[i].end_lsn = m.end_lsn;
      }
      if (m.kind != outbox::pgoutput::Message::Kind::kLogicalMessage) continue;
      outbox::OutboxEvent e;
      s = outbox::DecodeEmitMessage(m.content, m.message_lsn, &e);
      EXPECT_TRUE(s.ok()) << s.ToString();
      ids.push_back({e.event_id, 0});
    }
    return ids;
  }

  // The ids in the broker's `orders` topic, in the broker's order.
  std::vector<std::string> BrokerOrder() {
    std::unique_ptr<BrokerClient> c;
    BrokerClient::Options bo;
    bo.url = broker_->url();
    EXPECT_TRUE(BrokerClient::Create(bo, &c).ok());
    std::vector<std::string> ids;
    uint64_t from = 0;
    for (;;) {
      std::vector<BrokerMessage> batch;
      uint64_t next = from;
      if (!c->Read("orders", from, 10000, &batch, &next).ok() || batch.empty()) break;
      for (auto& m : batch) ids.push_back(m.id);
      from = next;
    }
    return ids;
  }

  // A new relay after a killed one: it drains, every event reaches the broker
  // once (the broker dedupes what was published again), in commit order.
  void DrainAfterTheKill(const outbox::RelayOptions& ro, int64_t orders) {
    DrainAndVerify(ro, orders);
    ExpectCommitOrder();
  }

  void ExpectCommitOrder() {
    std::vector<std::string> want = CommitOrder(), got = BrokerOrder();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << "broker message " << i << " is not the " << i
                                 << "th event in commit order";
    }
  }

  std::string SqlText(const std::string& sql) {
    pqxx::connection c{dsn_};
    pqxx::nontransaction tx{c};
    return tx.exec1(sql)[0].as<std::string>();
  }

  std::string witness_;
};

TEST_F(EmitSqlTest, TenThousandOrdersFromEightWritersInCommitOrder) {
  constexpr int64_t kOrders = 10000;
  std::unique_ptr<outbox::OutboxWriter> writer;
  Status s = outbox::OutboxWriter::Open(EmitWriter(8), &writer);
  ASSERT_TRUE(s.ok()) << s.ToString();
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  // Chunks of 600 changes (about 200 one-event transactions): the slot is
  // peeked and advanced dozens of times while the writers run.
  outbox::RelayOptions ro = SqlRelay();
  ro.cdc_sql_chunk_changes = 600;
  RelayThread relay(ro, rn);
  EXPECT_EQ(Write(writer.get(), kOrders, 8).committed, static_cast<uint64_t>(kOrders));
  writer.reset();
  const auto& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  EXPECT_EQ(report.published, static_cast<uint64_t>(kOrders)) << "each event read once";
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), 0) << "no table was written";
  ExpectCommitOrder();
}

// A chunk is acknowledged batch by batch, but the slot is advanced only past
// acknowledged commits. Killed with one batch in flight and the rest of the
// chunk in hand, the next relay peeks again from the last advance.
TEST_F(EmitSqlTest, RelaySigkilledMidChunkLosesNothingAndKeepsCommitOrder) {
  constexpr int64_t kOrders = 3000;
  WriteEmitted(kOrders, 8);
  // Every publish of the killed relay takes 50 ms: a batch is in flight
  // almost all the time, so the kill lands there, inside the one chunk
  // that holds all 3,000 events.
  BrokerFaults(R"({"latency_ms": 50})");
  const std::string log = TempDir("emit-sql-kill") + "/relay.log";
  pid_t pid = SpawnRelayCli(
      {"--strategy", "cdc", "--cdc-read", "sql", "--batch", "20", "--no-maintain"}, log);
  ASSERT_NO_FATAL_FAILURE(KillRelayOnceBrokerHolds(pid, kOrders / 4, log));
  EXPECT_LT(BrokerCount(), static_cast<uint64_t>(kOrders)) << "the kill should land mid-chunk";
  BrokerFaults(R"({"latency_ms": 0})");

  DrainAfterTheKill(SqlRelay(), kOrders);
}

// The read cursor is a temporary copy of the slot, read one chunk ahead of
// the publish; the slot itself moves only after acks. Killed after many
// read-aheads (chunks of 300 changes: 100 transactions), the copy dies with
// its session, the slot never passed what the broker held, and a new relay
// (its own copy, from the slot) loses nothing and keeps commit order.
TEST_F(EmitSqlTest, ReadAheadRelaySigkilledKeepsSlotBehindAcksAndItsCopyDies) {
  constexpr int64_t kOrders = 3000;
  WriteEmitted(kOrders, 8);
  const std::vector<Committed> commits = Commits();
  ASSERT_EQ(commits.size(), static_cast<size_t>(kOrders));
  const std::string slot = SqlText(
      "SELECT slot_name FROM pg_replication_slots WHERE database = current_database() AND NOT "
      "temporary AND slot_name <> '" +
      witness_ + "'");
  // The relay's copies (named after the slot, cut to fit, and a backend's
  // pid): this test's database has no other temporary slot.
  const std::string copies =
      "SELECT count(*) FROM pg_replication_slots WHERE temporary AND database = "
      "current_database() AND slot_name LIKE '%\\_rd\\_%'";
  // The events whose commit the slot's confirmed position has passed.
  auto passed = [&] {
    uint64_t confirmed = 0;
    outbox::pgoutput::ParseLsn(
        SqlText("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '" +
                slot + "'"),
        &confirmed);
    uint64_t n = 0;
    while (n < commits.size() && commits[n].end_lsn <= confirmed) ++n;
    return n;
  };
  BrokerFaults(R"({"latency_ms": 20})");
  const std::string log = TempDir("emit-sql-readahead") + "/relay.log";
  pid_t pid = SpawnRelayCli({"--strategy", "cdc", "--cdc-read", "sql", "--cdc-sql-chunk", "300",
                             "--batch", "20", "--no-maintain"},
                            log);
  ASSERT_GT(pid, 0);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  uint64_t seen = 0, samples = 0, copy_seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    // The slot first, the broker after: the broker only grows meanwhile.
    const uint64_t slot_passed = passed();
    copy_seen += SqlInt(dsn_, copies) == 1;
    seen = BrokerCount();
    ++samples;
    ASSERT_LE(slot_passed, seen) << "the slot passed events the broker does not hold";
    if (seen >= kOrders / 2) break;
    ASSERT_TRUE(ProcessAlive(pid)) << "relay exited early; see " << log;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_GE(seen, static_cast<uint64_t>(kOrders / 2)) << "see " << log;
  kill(pid, SIGKILL);
  ASSERT_TRUE(WaitGone(pid, 10s));
  EXPECT_GT(copy_seen, 0u) << "the relay read from a temporary copy (" << samples << " samples)";
  EXPECT_LE(passed(), BrokerCount());
  EXPECT_LT(BrokerCount(), static_cast<uint64_t>(kOrders)) << "the kill should land mid-drain";
  // The copy's session ends with the relay's connection.
  deadline = std::chrono::steady_clock::now() + 30s;
  while (SqlInt(dsn_, copies) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(SqlInt(dsn_, copies), 0) << "a temporary copy outlived the killed relay";
  BrokerFaults(R"({"latency_ms": 0})");

  outbox::RelayOptions ro = SqlRelay(50);
  ro.cdc_sql_chunk_changes = 300;
  DrainAfterTheKill(ro, kOrders);
  EXPECT_EQ(passed(), static_cast<uint64_t>(kOrders)) << "the drained relay advanced the slot";
}

// A emits first and commits last; B's event is delivered first, A's after
// it (commit order), and a rolled-back C's never.
TEST_F(EmitSqlTest, OutOfOrderCommitIsDeliveredInCommitOrderAndRollbackIsNot) {
  EmitOutOfOrderWithARollback(dsn_);
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  RelayThread relay(SqlRelay(), rn);
  const auto& report = relay.Join();
  EXPECT_TRUE(report.drained);
  EXPECT_EQ(report.published, 2u);
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 2u);
  EXPECT_EQ(v.messages, 2u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(BrokerOrder(),
            (std::vector<std::string>{workload::MessageIdFor(2), workload::MessageIdFor(1)}));
  ExpectCommitOrder();
}

// The table outbox's inserts come through the same rows (Relation, Insert):
// --cdc-read sql publishes them too.
TEST_F(OutboxTest, CdcSqlReadPublishesTableOutboxRows) {
  constexpr int64_t kOrders = 2000;
  ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
  ASSERT_TRUE(outbox::EnsureSchema(dsn_).ok());
  outbox::RelayOptions ro = Relay(outbox::Strategy::kCdc);
  ro.cdc_read = outbox::RelayOptions::CdcRead::kSql;
  ro.cdc_sql_chunk_changes = 600;
  std::unique_ptr<outbox::OutboxWriter> writer;
  Status s = outbox::OutboxWriter::Open(Writer(4), &writer);
  ASSERT_TRUE(s.ok()) << s.ToString();
  // Half before the slot exists (the initial copy), half after (the peeks).
  EXPECT_EQ(Write(writer.get(), kOrders / 2, 4).committed, static_cast<uint64_t>(kOrders / 2));
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  {
    std::unique_ptr<outbox::Relay> r;
    ASSERT_TRUE(outbox::CreateRelay(ro, &r).ok());
    s = r->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(Write(writer.get(), kOrders / 2, 4).committed, static_cast<uint64_t>(kOrders / 2));
  writer.reset();
  RelayThread relay(ro, rn);
  const auto& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

}  // namespace
}  // namespace dw::testing
