// Shared by the outbox suites: a scratch database of the shared cluster and
// a broker process of the test's own per test, a relay run in a thread, the
// writer driven by the real load runner, and verify.
#pragma once

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <pqxx/pqxx>

#include "common/process.h"
#include "env/scratch_database.h"
#include "outbox/emit_message.h"
#include "outbox/relay_cdc.h"
#include "outbox/relay_runner.h"
#include "outbox/writer.h"
#include "participants/broker_client.h"
#include "tests/support/test_support.h"
#include "workload/load_runner.h"
#include "workload/orders.h"
#include "workload/verify.h"

namespace dw::testing {

// Runs SQL on a fresh connection (a test's side channel).
inline void Sql(const std::string& dsn, const std::string& sql) {
  pqxx::connection c{dsn};
  pqxx::nontransaction tx{c};
  tx.exec(sql);
}

inline int64_t SqlInt(const std::string& dsn, const std::string& sql) {
  pqxx::connection c{dsn};
  pqxx::nontransaction tx{c};
  return tx.exec1(sql)[0].as<int64_t>();
}

// Order `id` with its event emitted to the WAL (pg_logical_emit_message),
// as `outbox write --emit-message` writes it, inside `tx`.
inline void EmitOrder(pqxx::transaction_base& tx, int64_t id) {
  workload::Order o = workload::MakeOrder(id, id, 1);
  SqlStatement ins = workload::InsertOrderStatement(o);
  tx.exec_params(ins.sql, *ins.params[0], *ins.params[1], *ins.params[2]);
  OutMessage m = workload::OrderPlacedMessage(o);
  tx.exec_params(
      "SELECT pg_logical_emit_message(true, $1, json_build_object('event_id', "
      "$2::text, 'topic', $3::text, 'key', $4::text, 'payload', $5::text)::text)",
      std::string(outbox::kEmitPrefix), m.id, m.topic, m.key, m.payload);
}

// Out-of-order commits of emitted orders: A emits order 1 first and commits
// last, B emits order 2 and commits, C emits order 3 and rolls back. In
// commit order the log holds 2, then 1; 3 never.
inline void EmitOutOfOrderWithARollback(const std::string& dsn) {
  pqxx::connection ca{dsn};
  pqxx::work a{ca};
  EmitOrder(a, 1);
  {
    pqxx::connection cb{dsn};
    pqxx::work b{cb};
    EmitOrder(b, 2);
    b.commit();
    pqxx::work c{cb};
    EmitOrder(c, 3);
    c.abort();
  }
  a.commit();
}

// Per test: scratch database + own broker.
class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabaseName("dwo");
    dsn_ = ScratchDatabase(db_);  // also clears an earlier run's slots
    ASSERT_FALSE(dsn_.empty());
    broker_ = std::make_unique<BrokerProcess>(TempDir("outbox-broker"));
    broker_->Start();
  }
  void TearDown() override {
    if (broker_) broker_->Kill9();
    const std::string shared = SharedDsn();
    if (dsn_.empty() || shared.empty()) return;
    // Keep a failed test's database for inspection, but not its logical
    // slots: they retain WAL for the whole cluster. Drop the others (dozens
    // of leftover databases make the shared cluster's shutdown checkpoint slow).
    Status s = HasFailure() ? env::DropReplicationSlots(shared, db_)
                            : env::DropScratchDatabase(shared, db_);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  outbox::RelayOptions Relay(outbox::Strategy s, int batch = 100) const {
    outbox::RelayOptions ro;
    ro.dsn = dsn_;
    ro.broker_url = broker_->url();
    ro.strategy = s;
    ro.batch = batch;
    ro.poll_interval = std::chrono::milliseconds(200);
    ro.lease = std::chrono::milliseconds(2000);
    return ro;
  }

  outbox::WriterOptions Writer(int connections, bool trigger = false) const {
    outbox::WriterOptions wo;
    wo.dsn = dsn_;
    wo.connections = connections;
    wo.trigger = trigger;
    return wo;
  }

  // The table-less outbox's writer: pg_logical_emit_message, no row.
  outbox::WriterOptions EmitWriter(int connections) const {
    outbox::WriterOptions wo = Writer(connections);
    wo.sink = outbox::WriterOptions::Sink::kEmit;
    return wo;
  }

  // N orders through an emit writer with C workers, all committed (the
  // backlog a relay test then drains).
  void WriteEmitted(int64_t n, int c) const {
    std::unique_ptr<outbox::OutboxWriter> writer;
    Status s = outbox::OutboxWriter::Open(EmitWriter(c), &writer);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(Write(writer.get(), n, c).committed, static_cast<uint64_t>(n));
  }

  // Runs one relay (no partition upkeep) until the outbox is drained, then
  // checks that each of the N orders is a row and exactly one message (the
  // broker dedupes what a killed relay had published already) and that
  // verify is clean: what a test that killed a relay expects of the next one.
  void DrainAndVerify(const outbox::RelayOptions& ro, int64_t orders) const;

  // Steps a started relay by hand until `want` events moved in all or 30 s
  // passed (a test that holds a transaction open steps around it).
  static int64_t PumpUntil(outbox::Relay* r, int64_t want) {
    int64_t total = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (total < want && std::chrono::steady_clock::now() < end) {
      int64_t moved = 0;
      Status s = r->Step(&moved);
      EXPECT_TRUE(s.ok()) << s.ToString();
      total += moved;
      if (moved == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return total;
  }

  // Steps for `d` and returns what moved (expected: nothing).
  static int64_t PumpFor(outbox::Relay* r, std::chrono::milliseconds d) {
    int64_t total = 0;
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
      int64_t moved = 0;
      EXPECT_TRUE(r->Step(&moved).ok());
      total += moved;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return total;
  }

  // Order 10 is written by `write` in a transaction left prepared as `gid`,
  // order 11 in one committed after it. The started relay must publish 11
  // while 10 is held, nothing more until COMMIT PREPARED, then 10; both
  // orders are rows and messages, and verify is clean.
  void ExpectHeldPreparedDoesNotStall(outbox::Relay* relay,
                                      void (*write)(pqxx::transaction_base&, int64_t),
                                      const std::string& gid) const {
    {
      pqxx::connection c{dsn_};
      pqxx::work tx{c};
      write(tx, 10);
      tx.exec("PREPARE TRANSACTION " + tx.quote(gid));
    }  // the session is gone; the prepared transaction stays
    {
      pqxx::connection c{dsn_};
      pqxx::work tx{c};
      write(tx, 11);
      tx.commit();
    }
    EXPECT_EQ(PumpUntil(relay, 1), 1) << "a later commit is not held back";
    EXPECT_EQ(PumpFor(relay, std::chrono::milliseconds(300)), 0)
        << "the prepared order's event is not published yet";
    Sql(dsn_, "COMMIT PREPARED " + pqxx::connection{dsn_}.quote(gid));
    EXPECT_EQ(PumpUntil(relay, 1), 1) << "delivery resumes once it commits";
    workload::VerifyReport v = Verify();
    EXPECT_EQ(v.rows, 2u);
    EXPECT_EQ(v.messages, 2u);
    EXPECT_TRUE(v.ok()) << v.ToText(20);
  }

  workload::VerifyReport Verify() const {
    workload::VerifyOptions vo;
    vo.dsn = dsn_;
    vo.broker_url = broker_->url();
    workload::VerifyReport r;
    Status s = workload::Verify(vo, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  // N orders from `writer` with C workers through the real load runner.
  static workload::LoadSummary Write(outbox::OutboxWriter* writer, int64_t n, int c,
                                     double rate = 0) {
    workload::LoadOptions lo;
    lo.transactions = n;
    lo.concurrency = c;
    lo.rate = rate;
    lo.progress = false;
    return workload::RunLoad(lo, [&](int w, int64_t i) {
      int64_t id;
      Status s = writer->PlaceOrder(w, i, &id);
      if (!s.ok()) ADD_FAILURE() << s.ToString();
      return s.ok() ? workload::Outcome::kCommitted : workload::Outcome::kFailed;
    });
  }

  // Steps `r` until a step moves nothing; returns the total moved.
  static int64_t Pump(outbox::Relay* r) {
    int64_t total = 0;
    for (int i = 0; i < 10000; ++i) {
      int64_t moved = 0;
      Status s = r->Step(&moved);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (!s.ok() || moved == 0) break;
      total += moved;
    }
    return total;
  }

  // `dualwrite outbox relay` on this test's database and broker, with `args`
  // (--strategy ...), as a process of its own writing to `log`; its pid, or
  // -1 (and a failure) when it cannot be started.
  pid_t SpawnRelayCli(const std::vector<std::string>& args, const std::string& log) const {
    std::vector<std::string> argv = {DualwriteBinary(), "outbox",      "relay", "--dsn", dsn_,
                                     "--broker",        broker_->url()};
    argv.insert(argv.end(), args.begin(), args.end());
    SpawnOptions o;
    o.stdout_path = log;
    o.stderr_path = "=stdout";
    pid_t pid = -1;
    Status st = Spawn(argv, o, &pid);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return pid;
  }

  // Waits (up to 60 s) until the broker holds `n` messages from the relay
  // process `pid`, which must stay alive meanwhile, then SIGKILLs it and
  // reaps it: a kill that lands mid-drain. Fatal failures; call it inside
  // ASSERT_NO_FATAL_FAILURE.
  void KillRelayOnceBrokerHolds(pid_t pid, uint64_t n, const std::string& log) {
    ASSERT_GT(pid, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    uint64_t seen = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      seen = BrokerCount();
      if (seen >= n) break;
      ASSERT_TRUE(ProcessAlive(pid)) << "relay exited early; see " << log;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_GE(seen, n) << "see " << log;
    kill(pid, SIGKILL);
    ASSERT_TRUE(WaitChild(pid, std::chrono::seconds(10)).has_value()) << "relay " << pid;
  }

  // Messages in the broker's `orders` topic.
  uint64_t BrokerCount() {
    std::unique_ptr<BrokerClient> c;
    BrokerClient::Options bo;
    bo.url = broker_->url();
    EXPECT_TRUE(BrokerClient::Create(bo, &c).ok());
    uint64_t from = 0, n = 0;
    for (;;) {
      std::vector<BrokerMessage> batch;
      uint64_t next = from;
      if (!c->Read("orders", from, 10000, &batch, &next).ok() || batch.empty()) break;
      n += batch.size();
      from = next;
    }
    return n;
  }

  // Sets the broker's fault knobs (POST /admin/faults), e.g. {"latency_ms": 300}.
  void BrokerFaults(const std::string& json) {
    std::string req =
        "POST /admin/faults HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(json.size()) + "\r\nConnection: close\r\n\r\n" + json;
    EXPECT_EQ(RawHttp(broker_->port(), req), 200) << json;
  }

  std::string db_;
  std::string dsn_;
  std::unique_ptr<BrokerProcess> broker_;
};

// RunRelays in a background thread.
class RelayThread {
 public:
  RelayThread(outbox::RelayOptions ro, outbox::RunnerOptions rn) {
    rn.stop = &stop_;
    if (rn.max_run.count() == 0) rn.max_run = std::chrono::seconds(240);
    thread_ = std::thread([this, ro, rn] { status_ = outbox::RunRelays(ro, rn, &report_); });
  }
  ~RelayThread() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const outbox::RelayReport& Join() {
    if (thread_.joinable()) thread_.join();
    EXPECT_TRUE(status_.ok()) << status_.ToString();
    return report_;
  }
  void Stop() { stop_ = true; }

 private:
  std::atomic<bool> stop_{false};
  Status status_;
  outbox::RelayReport report_;
  std::thread thread_;
};

inline void OutboxTest::DrainAndVerify(const outbox::RelayOptions& ro, int64_t orders) const {
  outbox::RunnerOptions rn;
  rn.until_drained = true;
  rn.maintain = false;
  RelayThread relay(ro, rn);
  const auto& report = relay.Join();
  EXPECT_TRUE(report.drained) << report.ToText();
  workload::VerifyReport v = Verify();
  EXPECT_EQ(v.rows, static_cast<uint64_t>(orders));
  EXPECT_EQ(v.messages, static_cast<uint64_t>(orders)) << "each once: the broker dedupes repeats";
  EXPECT_TRUE(v.ok()) << v.ToText(20);
}

}  // namespace dw::testing
