// The cdc relay reading its slot with SQL (`--cdc-read sql`,
// outbox/cdc_sql_reader.h) over the outbox without a table
// (outbox/emit_message.h), against a real Postgres and a real broker:
//  - 10,000 orders from 8 writers with the relay running, read in chunks of
//    a few hundred changes (so the slot is advanced many times): verify
//    clean, and the broker holds the events in commit order;
//  - the relay (the real CLI) SIGKILLed in the middle of a chunk, with one
//    batch in flight and the chunk's rest in hand: a new relay loses nothing
//    and keeps commit order (the broker dedupes what was published twice);
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

  outbox::WriterOptions EmitWriter(int connections) const {
    outbox::WriterOptions wo = Writer(connections);
    wo.sink = outbox::WriterOptions::Sink::kEmit;
    return wo;
  }

  // The event ids in commit order: the witness slot's messages.
  std::vector<std::string> CommitOrder() {
    pqxx::connection c{dsn_};
    pqxx::nontransaction tx{c};
    auto rows = tx.exec_params(
        "SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', "
        "'1', 'publication_names', 'dw_outbox_pub', 'messages', 'true')",
        witness_);
    outbox::pgoutput::Decoder d;
    std::vector<std::string> ids;
    for (const auto& row : rows) {
      pqxx::binarystring bytes(row[0]);
      outbox::pgoutput::Message m;
      Status s = d.Decode(std::string_view(bytes.get(), bytes.size()), &m);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (m.kind != outbox::pgoutput::Message::Kind::kLogicalMessage) continue;
      outbox::OutboxEvent e;
      s = outbox::DecodeEmitMessage(m.content, m.message_lsn, &e);
      EXPECT_TRUE(s.ok()) << s.ToString();
      ids.push_back(e.event_id);
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

  void ExpectCommitOrder() {
    std::vector<std::string> want = CommitOrder(), got = BrokerOrder();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << "broker message " << i << " is not the " << i
                                 << "th event in commit order";
    }
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
  {
    std::unique_ptr<outbox::OutboxWriter> writer;
    Status s = outbox::OutboxWriter::Open(EmitWriter(8), &writer);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(Write(writer.get(), kOrders, 8).committed, static_cast<uint64_t>(kOrders));
  }
  // Every publish of the killed relay takes 50 ms: a batch is in flight
  // almost all the time, so the kill lands there, inside the one chunk
  // that holds all 3,000 events.
  BrokerFaults(R"({"latency_ms": 50})");
  const std::string log = TempDir("emit-sql-kill") + "/relay.log";
  pid_t pid = SpawnRelayCli(
      {"--strategy", "cdc", "--cdc-read", "sql", "--batch", "20", "--no-maintain"}, log);
  ASSERT_GT(pid, 0);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  uint64_t seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = BrokerCount();
    if (seen >= kOrders / 4) break;
    ASSERT_TRUE(ProcessAlive(pid)) << "relay exited early; see " << log;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_GE(seen, static_cast<uint64_t>(kOrders / 4)) << "see " << log;
  kill(pid, SIGKILL);
  ASSERT_TRUE(WaitGone(pid, 10s));
  EXPECT_LT(BrokerCount(), static_cast<uint64_t>(kOrders)) << "the kill should land mid-chunk";
  BrokerFaults(R"({"latency_ms": 0})");

  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  RelayThread relay(SqlRelay(), rn);
  const auto& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders)) << "each once: the broker dedupes repeats";
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  ExpectCommitOrder();
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
