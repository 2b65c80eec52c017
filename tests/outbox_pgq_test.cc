// PgQ as the outbox (outbox/pgq_queue.h, relay_pgq.h), against a real
// Postgres with the pgq extension, a real pgqd and a real broker:
//  - 10,000 orders from 8 writers with the relay running: verify clean;
//  - the relay (the real CLI) SIGKILLed while a batch is open: a new relay
//    gets the same batch again, nothing is lost and the broker's dedupe
//    absorbs the repeats;
//  - offset-naive's losing interleaving (a transaction that inserts first
//    and commits last): both events delivered;
//  - a prepared transaction holding an event does not hold back later
//    commits, and its event is delivered once it commits;
//  - a transaction open across a tick that commits after it: the queue is
//    not drained until its event is delivered (--until-drained waits for the
//    next tick instead of stopping).
// And the outbox without a table (outbox/emit_message.h): the same 10,000
// orders and the same interleaving, read by the cdc relay from the WAL; and
// that relay (the real CLI) SIGKILLed while one batch is in flight and the
// next is being read ahead: a new relay loses nothing.
#include <sys/stat.h>

#include <csignal>

#include <gtest/gtest.h>

#include "common/process.h"
#include "env/layout.h"
#include "env/pgqd_daemon.h"
#include "outbox/emit_message.h"
#include "outbox/pgq_queue.h"
#include "outbox/relay.h"
#include "outbox/schema.h"
#include "tests/support/outbox_test_util.h"
#include "workload/orders.h"

namespace dw::testing {
namespace {

using namespace std::chrono_literals;

class PgqTest : public OutboxTest {
 protected:
  void SetUp() override {
    OutboxTest::SetUp();
    ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
    outbox::PgqTickerSettings ticker;
    Status s = outbox::EnsurePgqQueue(dsn_, &ticker);
    ASSERT_TRUE(s.ok()) << s.ToString();
    state_ = TempDir("pgq-state");
    chmod(state_.c_str(), 0755);  // pgqd runs as the `postgres` OS user under root
  }
  void TearDown() override {
    // Before the database is dropped: pgqd would log reconnect failures.
    Status s = env::PgqdDaemon(env::Layout(state_)).Stop(nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    OutboxTest::TearDown();
  }

  void StartPgqd() {
    env::PgqdDaemon d{env::Layout(state_)};
    pid_t pid = 0;
    bool started = false;
    Status s = d.Ensure(dsn_, env::PgqdSettings{}, &pid, &started, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_GT(pid, 0);
  }

  outbox::RelayOptions PgqRelay(bool self_tick) const {
    outbox::RelayOptions ro = Relay(outbox::Strategy::kPgq);
    ro.pgq_self_tick = self_tick;
    return ro;
  }

  outbox::WriterOptions PgqWriter(int connections) const {
    outbox::WriterOptions wo = Writer(connections);
    wo.sink = outbox::WriterOptions::Sink::kPgq;
    return wo;
  }

  // The writer's statement, by hand, inside the caller's transaction.
  static void InsertEvent(pqxx::transaction_base& tx, int64_t order_id) {
    workload::Order o = workload::MakeOrder(order_id, order_id, 1);
    SqlStatement ins = workload::InsertOrderStatement(o);
    tx.exec_params(ins.sql, *ins.params[0], *ins.params[1], *ins.params[2]);
    OutMessage m = workload::OrderPlacedMessage(o);
    tx.exec_params("SELECT pgq.insert_event($1, $2, $3, $4, $5, 'order', NULL)", outbox::kPgqQueue,
                   m.topic, m.payload, m.id, m.key);
  }

  std::unique_ptr<outbox::Relay> StartedRelay(bool self_tick) {
    std::unique_ptr<outbox::Relay> r;
    EXPECT_TRUE(outbox::CreateRelay(PgqRelay(self_tick), &r).ok());
    Status s = r->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  std::string state_;
};

TEST_F(PgqTest, TenThousandOrdersFromEightWritersWithPgqd) {
  constexpr int64_t kOrders = 10000;
  StartPgqd();
  std::unique_ptr<outbox::OutboxWriter> writer;
  Status s = outbox::OutboxWriter::Open(PgqWriter(8), &writer);
  ASSERT_TRUE(s.ok()) << s.ToString();
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  RelayThread relay(PgqRelay(/*self_tick=*/false), rn);  // after Open: the writers' lock is held
  EXPECT_EQ(Write(writer.get(), kOrders, 8).committed, static_cast<uint64_t>(kOrders));
  writer.reset();
  const auto& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  EXPECT_GE(report.published, static_cast<uint64_t>(kOrders)) << report.ToText();
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  // Nothing went through outbox_table, and nothing was updated or deleted
  // per event: the queue's tables only receive inserts.
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), 0);
}

TEST_F(PgqTest, RelaySigkilledMidBatchLosesNothing) {
  constexpr int64_t kOrders = 3000;
  StartPgqd();
  {
    std::unique_ptr<outbox::OutboxWriter> writer;
    ASSERT_TRUE(outbox::OutboxWriter::Open(PgqWriter(4), &writer).ok());
    EXPECT_EQ(Write(writer.get(), kOrders, 4).committed, static_cast<uint64_t>(kOrders));
  }
  // Every publish takes 300 ms while that relay runs, so each of its batches
  // stays open long enough for the poll below to see it: unslowed, the relay
  // can open, publish and finish all of them between two polls.
  BrokerFaults(R"({"latency_ms": 300})");
  // The real CLI, with the test's pgqd (same state folder: it finds it running).
  pid_t pid = -1;
  SpawnOptions so;
  so.stdout_path = state_ + "/relay.out";
  so.stderr_path = "=stdout";
  ASSERT_TRUE(Spawn({DualwriteBinary(), "--state-dir", state_, "--dsn", dsn_, "--broker",
                     broker_->url(), "outbox", "relay", "--strategy", "pgq", "--no-maintain"},
                    so, &pid)
                  .ok());
  // Kill it once it holds an open batch (next_batch committed, finish_batch
  // not yet): the consumer's current_batch is set exactly then.
  bool open_batch = false;
  auto end = std::chrono::steady_clock::now() + 30s;
  while (!open_batch && std::chrono::steady_clock::now() < end) {
    open_batch = SqlInt(dsn_,
                        "SELECT count(*) FROM pgq.get_consumer_info('dw_outbox', 'dw_relay')"
                        " WHERE current_batch IS NOT NULL") > 0;
  }
  kill(pid, SIGKILL);
  ASSERT_TRUE(WaitGone(pid, 10s));
  ASSERT_TRUE(open_batch) << "the relay never opened a batch; see " << state_ << "/relay.out";
  BrokerFaults(R"({"latency_ms": 0})");

  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  RelayThread relay(PgqRelay(/*self_tick=*/false), rn);
  const auto& report = relay.Join();
  EXPECT_TRUE(report.drained);
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

// offset-naive loses B's neighbour A here (outbox_offset_test.cc): A inserts
// first (the lower event id) and commits after B was relayed.
TEST_F(PgqTest, OutOfOrderCommitIsDelivered) {
  auto relay = StartedRelay(/*self_tick=*/true);
  pqxx::connection ca{dsn_};
  pqxx::work a{ca};
  InsertEvent(a, 1);
  {
    pqxx::connection cb{dsn_};
    pqxx::work b{cb};
    InsertEvent(b, 2);
    b.commit();
  }
  EXPECT_EQ(PumpUntil(relay.get(), 1), 1) << "B, committed, is delivered while A is open";
  a.commit();
  EXPECT_EQ(PumpUntil(relay.get(), 1), 1) << "A, committed after B was relayed, is not skipped";
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 2u);
  EXPECT_EQ(v.messages, 2u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

TEST_F(PgqTest, HeldPreparedTransactionDoesNotStallLaterCommits) {
  auto relay = StartedRelay(/*self_tick=*/true);
  ExpectHeldPreparedDoesNotStall(relay.get(), &InsertEvent, "dw_pgq_held_" + db_);
}

// The last tick lists A's txid in progress; A then commits. A's event took
// its ev_id before that tick, so the queue's event sequence did not move
// since (ev_new = 0) and the consumer stands at the last tick: only the
// tick's snapshot says that a committed event is in no batch yet.
TEST_F(PgqTest, CommitAfterTheLastTickIsNotDrainedAway) {
  StartPgqd();
  auto last_tick = [&] {
    return SqlInt(dsn_, "SELECT last_tick_id FROM pgq.get_queue_info('dw_outbox')");
  };
  pqxx::connection ca{dsn_};
  pqxx::work a{ca};
  InsertEvent(a, 1);
  const int64_t txid_a = a.exec1("SELECT txid_current()")[0].as<int64_t>();
  // A tick while A is open: force_tick makes pgqd's next call tick.
  const int64_t before = last_tick();
  Sql(dsn_, "SELECT pgq.force_tick('dw_outbox')");
  auto end = std::chrono::steady_clock::now() + 30s;
  while (last_tick() == before && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(last_tick(), before) << "pgqd took no tick";
  // No tick from here on: pgq.ticker() skips a paused queue. A call pgqd
  // began before the pause may still tick; wait until none is running.
  Sql(dsn_, "SELECT pgq.set_queue_config('dw_outbox', 'ticker_paused', 'true')");
  end = std::chrono::steady_clock::now() + 30s;
  while (SqlInt(dsn_,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state <> 'idle' AND query LIKE '%pgq.ticker%'") >
             0 &&
         std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(10ms);
  }
  const int64_t tick = last_tick();

  auto relay = StartedRelay(/*self_tick=*/false);
  EXPECT_EQ(PumpFor(relay.get(), 200ms), 0);
  bool drained = false;
  Status s = relay->Drained(&drained);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(drained) << "A is open: nothing committed is left to send";

  a.commit();
  EXPECT_EQ(SqlInt(dsn_,
                   "SELECT count(*) FROM pgq.tick t JOIN pgq.queue q ON q.queue_id ="
                   " t.tick_queue WHERE q.queue_name = 'dw_outbox' AND t.tick_id = " +
                       std::to_string(tick) + " AND txid_visible_in_snapshot(" +
                       std::to_string(txid_a) + ", t.tick_snapshot)"),
            0)
      << "the last tick lists A in progress";
  EXPECT_EQ(PumpFor(relay.get(), 200ms), 0) << "no tick since A committed";
  s = relay->Drained(&drained);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(drained) << "A committed after the last tick: its event is in no batch yet";
  EXPECT_EQ(last_tick(), tick) << "the ticker stayed paused";
  relay.reset();

  // The relay as `outbox relay --until-drained` runs it, started while no
  // tick can come: one that took the queue for drained would stop now, with
  // nothing published. Half a second gives it the time to; then pgqd ticks
  // again, and that tick brings A's event.
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  RelayThread runner(PgqRelay(/*self_tick=*/false), rn);
  std::this_thread::sleep_for(500ms);
  Sql(dsn_, "SELECT pgq.set_queue_config('dw_outbox', 'ticker_paused', 'false')");
  const auto& report = runner.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  EXPECT_EQ(report.published, 1u) << report.ToText();
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 1u);
  EXPECT_EQ(v.messages, 1u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

class EmitTest : public OutboxTest {
 protected:
  void SetUp() override {
    OutboxTest::SetUp();
    ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
    ASSERT_TRUE(outbox::EnsureSchema(dsn_).ok());  // the publication names outbox_table
    // The cdc relay's first Start creates the slot (and the publication):
    // the writer refuses to emit before a slot exists.
    std::unique_ptr<outbox::Relay> r;
    ASSERT_TRUE(outbox::CreateRelay(Relay(outbox::Strategy::kCdc), &r).ok());
    Status s = r->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
};

TEST_F(OutboxTest, EmitWriterRefusesWithoutASlot) {
  ASSERT_TRUE(workload::EnsureOrdersSchema(dsn_).ok());
  std::unique_ptr<outbox::OutboxWriter> writer;
  Status s = outbox::OutboxWriter::Open(EmitWriter(1), &writer);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
}

TEST_F(EmitTest, TenThousandOrdersFromEightWriters) {
  constexpr int64_t kOrders = 10000;
  std::unique_ptr<outbox::OutboxWriter> writer;
  Status s = outbox::OutboxWriter::Open(EmitWriter(8), &writer);
  ASSERT_TRUE(s.ok()) << s.ToString();
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  RelayThread relay(Relay(outbox::Strategy::kCdc), rn);
  EXPECT_EQ(Write(writer.get(), kOrders, 8).committed, static_cast<uint64_t>(kOrders));
  writer.reset();
  const auto& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(kOrders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(kOrders));
  EXPECT_TRUE(v.ok()) << v.ToText(20);
  EXPECT_EQ(SqlInt(dsn_, "SELECT count(*) FROM outbox_table"), 0) << "no table was written";
}

// The cdc relay reads batch n+1 while batch n awaits the broker (relay_cdc.h,
// "Overlap"), and confirms the slot's position only after n's ack. Killed
// with both in hand, the next relay starts from the last confirmed commit.
TEST_F(EmitTest, RelaySigkilledWithABatchInFlightLosesNothing) {
  constexpr int64_t kOrders = 3000;
  WriteEmitted(kOrders, 8);
  // Every publish of the killed relay takes 50 ms: a batch is in flight
  // (and the next one read) almost all the time, so the kill lands there.
  BrokerFaults(R"({"latency_ms": 50})");
  const std::string log = TempDir("emit-kill") + "/relay.log";
  pid_t pid = SpawnRelayCli({"--strategy", "cdc", "--batch", "20", "--no-maintain"}, log);
  ASSERT_NO_FATAL_FAILURE(KillRelayOnceBrokerHolds(pid, kOrders / 4, log));
  EXPECT_LT(BrokerCount(), static_cast<uint64_t>(kOrders)) << "the kill should land mid-drain";
  BrokerFaults(R"({"latency_ms": 0})");
  DrainAndVerify(Relay(outbox::Strategy::kCdc), kOrders);
}

// A inserts first and commits last; B's event is delivered first, A's after
// it commits (commit order), and a rolled-back C's never.
TEST_F(EmitTest, OutOfOrderCommitIsDeliveredAndRollbackIsNot) {
  EmitOutOfOrderWithARollback(dsn_);
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  RelayThread relay(Relay(outbox::Strategy::kCdc), rn);
  const auto& report = relay.Join();
  EXPECT_TRUE(report.drained);
  EXPECT_EQ(report.published, 2u);
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, 2u);
  EXPECT_EQ(v.messages, 2u);
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

// A prepared transaction's message is decoded at its COMMIT PREPARED (the
// slot's pgoutput is not asked for two-phase decoding): a later commit is
// published meanwhile, and the held one follows once it commits.
TEST_F(EmitTest, HeldPreparedTransactionDoesNotStallLaterCommits) {
  std::unique_ptr<outbox::Relay> relay;
  ASSERT_TRUE(outbox::CreateRelay(Relay(outbox::Strategy::kCdc), &relay).ok());
  Status s = relay->Start();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectHeldPreparedDoesNotStall(relay.get(), &EmitOrder, "dw_emit_held_" + db_);
}

}  // namespace
}  // namespace dw::testing
