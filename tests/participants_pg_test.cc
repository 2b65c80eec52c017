// The Postgres participant and its connection pool, against a real cluster:
// the shared test cluster (scratch database `participants_pg`), plus tiny
// private clusters this file starts itself for what cannot be done to a
// shared one (2PC disabled; a server killed in the middle of COMMIT PREPARED).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "common/process.h"
#include "participants/call_deadline.h"
#include "participants/pg_pool.h"
#include "participants/postgres_participant.h"
#include "tests/support/test_support.h"
#include "tests/support/throwaway_cluster.h"

using dw::InDoubtTxn;
using dw::PgPool;
using dw::PostgresParticipant;
using dw::SqlStatement;
using dw::Status;
using dw::Work;

namespace {

using Clock = std::chrono::steady_clock;

std::string g_dsn;  // the current test's scratch database (ScratchDbTest)

// ctest runs every test of this file as a process of its own, in parallel:
// each test gets a scratch database of its own (pg_prepared_xacts is
// cluster-wide, but the participant only looks at its own database).
class ScratchDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_dsn = dw::testing::ScratchDatabase(dw::testing::TestDatabaseName("ppg"));
    ASSERT_FALSE(g_dsn.empty()) << "no scratch database";
  }
};

// Direct SQL through a connection of the test's own (not the pool).
pqxx::result Sql(const std::string& sql, const std::string& dsn = g_dsn) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  return tx.exec(sql);
}

int64_t Count(const std::string& sql, const std::string& dsn = g_dsn) {
  return Sql(sql, dsn)[0][0].as<int64_t>();
}

bool PreparedListed(const std::string& gid, const std::string& dsn = g_dsn) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  return !tx.exec_params("SELECT 1 FROM pg_prepared_xacts WHERE gid = $1", gid).empty();
}

Work Insert(int id, const std::string& v, const std::string& table = "kv") {
  Work w;
  w.statements.push_back(
      SqlStatement{"INSERT INTO " + table + " (id, v) VALUES ($1, $2)", {std::to_string(id), v}});
  return w;
}

std::unique_ptr<PostgresParticipant> NewParticipant(
    const std::string& dsn = g_dsn,
    std::chrono::milliseconds stmt_timeout = std::chrono::seconds(30)) {
  PgPool::Options po;
  po.dsn = dsn;
  po.max_connections = 4;
  po.statement_timeout = stmt_timeout;
  std::unique_ptr<PostgresParticipant> p;
  Status s = PostgresParticipant::Create(po, PostgresParticipant::Options{}, &p);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return p;
}

class PgParticipantTest : public ScratchDbTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ScratchDbTest::SetUp());
    Sql("CREATE TABLE kv (id int PRIMARY KEY, v text)");
    p_ = NewParticipant();
    ASSERT_NE(p_, nullptr);
  }
  std::unique_ptr<PostgresParticipant> p_;
};

TEST_F(PgParticipantTest, PreparedRowIsInvisibleUntilCommitFromAnotherInstance) {
  ASSERT_TRUE(p_->Prepare("t1:prep-commit", Insert(1, "a")).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM kv"), 0) << "a prepared row must not be visible";
  EXPECT_TRUE(PreparedListed("t1:prep-commit"));

  // Another participant instance: its own pool, hence another connection
  // and backend - what a recovering coordinator in another process does.
  auto other = NewParticipant();
  ASSERT_NE(other, nullptr);
  Status s = other->Commit("t1:prep-commit");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE id = 1 AND v = 'a'"), 1);
  EXPECT_FALSE(PreparedListed("t1:prep-commit"));
  // Committing again: the participant no longer knows the gid.
  EXPECT_TRUE(other->Commit("t1:prep-commit").IsNotFound());
}

TEST_F(PgParticipantTest, AbortRollsBackAndIsIdempotent) {
  ASSERT_TRUE(p_->Prepare("t1:prep-abort", Insert(2, "b")).ok());
  EXPECT_TRUE(PreparedListed("t1:prep-abort"));
  Status s = p_->Abort("t1:prep-abort");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(PreparedListed("t1:prep-abort"));
  EXPECT_EQ(Count("SELECT count(*) FROM kv"), 0);
  EXPECT_TRUE(p_->Abort("t1:prep-abort").ok()) << "a second abort is presumed-abort OK";
  // The key is free again: nothing of the aborted transaction remains.
  ASSERT_TRUE(p_->CommitOnePhase(Insert(2, "b2")).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE v = 'b2'"), 1);
}

TEST_F(PgParticipantTest, UnknownGids) {
  Status c = p_->Commit("t1:never-prepared");
  EXPECT_TRUE(c.IsNotFound()) << c.ToString();
  Status a = p_->Abort("t1:never-prepared");
  EXPECT_TRUE(a.ok()) << a.ToString();
  // A gid outside the safe alphabet never reaches SQL.
  EXPECT_EQ(p_->Commit("bad gid'; DROP TABLE kv; --").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(p_->Prepare(std::string(201, 'g'), Insert(1, "x")).code(),
            Status::Code::kInvalidArgument);
}

TEST_F(PgParticipantTest, ListInDoubtFiltersByPrefixLiterally) {
  auto before = std::chrono::system_clock::now() - std::chrono::seconds(5);
  ASSERT_TRUE(p_->Prepare("coord_a:1", Insert(1, "x")).ok());
  ASSERT_TRUE(p_->Prepare("coord_a:2", Insert(2, "x")).ok());
  ASSERT_TRUE(p_->Prepare("coordXa:3", Insert(3, "x")).ok());  // '_' must not act as a wildcard
  ASSERT_TRUE(p_->Prepare("other:4", Insert(4, "x")).ok());
  auto after = std::chrono::system_clock::now() + std::chrono::seconds(5);

  std::vector<InDoubtTxn> got;
  Status s = p_->ListInDoubt("coord_a:", &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.size(), 2u);
  std::vector<std::string> gids = {got[0].gid, got[1].gid};
  std::sort(gids.begin(), gids.end());
  EXPECT_EQ(gids, (std::vector<std::string>{"coord_a:1", "coord_a:2"}));
  for (const auto& t : got) {
    EXPECT_GT(t.prepared_at, before);
    EXPECT_LT(t.prepared_at, after);
  }
  ASSERT_TRUE(p_->ListInDoubt("", &got).ok());
  EXPECT_EQ(got.size(), 4u);
  ASSERT_TRUE(p_->ListInDoubt("nothing-here:", &got).ok());
  EXPECT_TRUE(got.empty());
  for (const char* g : {"coord_a:1", "coord_a:2", "coordXa:3", "other:4"}) {
    ASSERT_TRUE(p_->Abort(g).ok());
  }
}

TEST_F(PgParticipantTest, ListInDoubtIgnoresOtherDatabases) {
  // A prepared transaction of the same prefix in another database of the
  // cluster belongs to someone else's participant.
  std::string other_dsn = dw::testing::ScratchDatabase("ppg_other_db");
  auto other = NewParticipant(other_dsn);
  ASSERT_NE(other, nullptr);
  Sql("CREATE TABLE kv (id int PRIMARY KEY, v text)", other_dsn);
  ASSERT_TRUE(other->Prepare("shared-prefix:other-db", Insert(1, "x")).ok());
  ASSERT_TRUE(p_->Prepare("shared-prefix:this-db", Insert(1, "x")).ok());
  std::vector<InDoubtTxn> got;
  ASSERT_TRUE(p_->ListInDoubt("shared-prefix:", &got).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].gid, "shared-prefix:this-db");
  EXPECT_TRUE(other->Abort("shared-prefix:other-db").ok());
  EXPECT_TRUE(p_->Abort("shared-prefix:this-db").ok());
}

TEST_F(PgParticipantTest, FailingStatementVotesAbortAndPreparesNothing) {
  Sql("INSERT INTO kv VALUES (7, 'taken')");
  Work w;
  w.statements.push_back(SqlStatement{"INSERT INTO kv (id, v) VALUES ($1, $2)", {"8", "first"}});
  w.statements.push_back(SqlStatement{"INSERT INTO kv (id, v) VALUES ($1, $2)", {"7", "dup"}});
  Status s = p_->Prepare("t1:unique-violation", w);
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
  EXPECT_NE(s.message().find("23505"), std::string::npos) << s.message();
  EXPECT_FALSE(PreparedListed("t1:unique-violation"));
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE id = 8"), 0) << "the first statement rolled back";
  std::vector<InDoubtTxn> got;
  ASSERT_TRUE(p_->ListInDoubt("t1:", &got).ok());
  EXPECT_TRUE(got.empty());
  // The pooled connection is healthy afterwards.
  ASSERT_TRUE(p_->Prepare("t1:after-failure", Insert(9, "ok")).ok());
  ASSERT_TRUE(p_->Commit("t1:after-failure").ok());
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE id = 9"), 1);
}

TEST_F(PgParticipantTest, DuplicateGidVotesAbort) {
  ASSERT_TRUE(p_->Prepare("t1:dup-gid", Insert(1, "a")).ok());
  Status s = p_->Prepare("t1:dup-gid", Insert(2, "b"));
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
  ASSERT_TRUE(p_->Commit("t1:dup-gid").ok());
  EXPECT_EQ(Count("SELECT count(*) FROM kv"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE id = 2"), 0);
}

TEST_F(PgParticipantTest, NullParametersAndManyStatements) {
  Work w;
  for (int i = 0; i < 20; ++i) {
    std::optional<std::string> v;
    if (i % 2) v = "v" + std::to_string(i);
    w.statements.push_back(
        SqlStatement{"INSERT INTO kv (id, v) VALUES ($1, $2)", {std::to_string(i), v}});
  }
  w.statements.push_back(SqlStatement{"UPDATE kv SET v = v || '!' WHERE id = 1", {}});
  ASSERT_TRUE(p_->Prepare("t1:many", w).ok());
  ASSERT_TRUE(p_->Commit("t1:many").ok());
  EXPECT_EQ(Count("SELECT count(*) FROM kv"), 20);
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE v IS NULL"), 10);
  EXPECT_EQ(Sql("SELECT v FROM kv WHERE id = 1")[0][0].as<std::string>(), "v1!");
}

TEST_F(PgParticipantTest, CommitOnePhase) {
  ASSERT_TRUE(p_->CommitOnePhase(Insert(1, "one")).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE v = 'one'"), 1);
  Status s = p_->CommitOnePhase(Insert(1, "again"));
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
  std::vector<InDoubtTxn> got;
  ASSERT_TRUE(p_->ListInDoubt("", &got).ok());
  EXPECT_TRUE(got.empty()) << "one-phase commit prepares nothing";
}

// The lesson 2PC teaches the hard way: a prepared transaction keeps its row
// locks, and nobody but COMMIT/ROLLBACK PREPARED releases them.
TEST_F(PgParticipantTest, PreparedRowLockBlocksConcurrentUpdateUntilCommit) {
  Sql("INSERT INTO kv VALUES (1, 'a')");
  Work w;
  w.statements.push_back(SqlStatement{"UPDATE kv SET v = v || '+prepared' WHERE id = $1", {"1"}});
  ASSERT_TRUE(p_->Prepare("t1:lock-holder", w).ok());

  std::atomic<bool> update_done{false};
  std::string update_error;
  std::thread updater([&] {
    try {
      pqxx::connection c(g_dsn);
      pqxx::nontransaction tx(c);
      tx.exec0("SET application_name = 'dw-test-blocked-updater'");
      tx.exec0("UPDATE kv SET v = v || '+concurrent' WHERE id = 1");
    } catch (const std::exception& e) {
      update_error = e.what();
    }
    update_done = true;
  });
  // Wait until the server reports the updater waiting on a lock (no sleep-and-hope).
  bool waiting = false;
  for (auto deadline = Clock::now() + std::chrono::seconds(20); Clock::now() < deadline;) {
    if (Count("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
              "'dw-test-blocked-updater' AND wait_event_type = 'Lock'") == 1) {
      waiting = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(waiting) << "the concurrent UPDATE never blocked on the prepared transaction's lock";
  EXPECT_FALSE(update_done) << "the UPDATE finished while the lock was held: " << update_error;

  ASSERT_TRUE(p_->Commit("t1:lock-holder").ok());
  updater.join();
  EXPECT_TRUE(update_error.empty()) << update_error;
  // It ran after the commit, on the committed version of the row.
  EXPECT_EQ(Sql("SELECT v FROM kv WHERE id = 1")[0][0].as<std::string>(), "a+prepared+concurrent");
}

TEST_F(PgParticipantTest, LockWaitIsBoundedByStatementTimeout) {
  Sql("INSERT INTO kv VALUES (1, 'a')");
  Work w;
  w.statements.push_back(SqlStatement{"UPDATE kv SET v = 'holder' WHERE id = $1", {"1"}});
  ASSERT_TRUE(p_->Prepare("t1:holder", w).ok());

  auto impatient = NewParticipant(g_dsn, std::chrono::milliseconds(300));
  ASSERT_NE(impatient, nullptr);
  Work w2;
  w2.statements.push_back(SqlStatement{"UPDATE kv SET v = 'waiter' WHERE id = $1", {"1"}});
  Status s = impatient->Prepare("t1:waiter", w2);
  EXPECT_EQ(s.code(), Status::Code::kTimeout) << s.ToString();
  EXPECT_FALSE(PreparedListed("t1:waiter"));
  ASSERT_TRUE(p_->Abort("t1:holder").ok());
  EXPECT_EQ(Sql("SELECT v FROM kv WHERE id = 1")[0][0].as<std::string>(), "a");
}

// With a call deadline, a call Postgres does not answer (here: a lock wait,
// which statement_timeout would end only after 30 s) ends at the deadline on
// the caller's own thread: the watcher shuts its connection down. The
// server already had the whole statement, so it prepares the gid once the
// lock is free: a late prepare, which the coordinator's presumed abort
// (Abort now, recovery later) cleans up, as for an abandoned pool call.
TEST_F(PgParticipantTest, CallDeadlineEndsAStuckCallAndDropsItsConnection) {
  Sql("INSERT INTO kv VALUES (1, 'a')");
  Work w;
  w.statements.push_back(SqlStatement{"UPDATE kv SET v = 'holder' WHERE id = $1", {"1"}});
  ASSERT_TRUE(p_->Prepare("t1:dl-holder", w).ok());

  PgPool::Options po;
  po.dsn = g_dsn;
  po.max_connections = 2;
  po.statement_timeout = std::chrono::seconds(30);
  std::shared_ptr<PgPool> pool;
  ASSERT_TRUE(PgPool::Create(po, &pool).ok());
  PostgresParticipant::Options opts;
  opts.call_deadline = std::chrono::milliseconds(300);
  std::unique_ptr<PostgresParticipant> bounded;
  ASSERT_TRUE(PostgresParticipant::Create(pool, opts, &bounded).ok());
  EXPECT_TRUE(bounded->CallsBounded());
  EXPECT_FALSE(p_->CallsBounded()) << "no deadline, no claim";

  const uint64_t fired = dw::CallDeadlines::fired_total();
  Work w2;
  w2.statements.push_back(SqlStatement{"UPDATE kv SET v = 'waiter' WHERE id = $1", {"1"}});
  const auto t0 = std::chrono::steady_clock::now();
  Status s = bounded->Prepare("t1:dl-waiter", w2);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(s.code(), Status::Code::kTimeout) << s.ToString();
  EXPECT_NE(s.message().find("connection was shut down"), std::string::npos) << s.ToString();
  EXPECT_LT(took, std::chrono::seconds(5)) << "ended by the deadline, not statement_timeout";
  EXPECT_EQ(dw::CallDeadlines::fired_total(), fired + 1);
  EXPECT_EQ(pool->stats().dropped_total, 1u) << "a shut-down connection is never reused";

  // The same participant goes on working on a new connection.
  ASSERT_TRUE(bounded->Prepare("t1:dl-other", Insert(2, "b")).ok());
  ASSERT_TRUE(bounded->Commit("t1:dl-other").ok());

  // Freed, the waiting backend runs the rest of what it received.
  ASSERT_TRUE(p_->Abort("t1:dl-holder").ok());
  for (int i = 0; i < 100 && !PreparedListed("t1:dl-waiter"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(bounded->Abort("t1:dl-waiter").ok());  // presumed abort, as the coordinator sends
  EXPECT_FALSE(PreparedListed("t1:dl-waiter"));
  EXPECT_EQ(Sql("SELECT v FROM kv WHERE id = 1")[0][0].as<std::string>(), "a");
}

TEST_F(PgParticipantTest, ConcurrentPreparesAndCommits) {
  constexpr int kThreads = 4, kPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int id = t * 1000 + i;
        std::string gid = "conc:" + std::to_string(id);
        if (!p_->Prepare(gid, Insert(id, "c")).ok()) ++failures;
        Status s = (i % 3 == 0) ? p_->Abort(gid) : p_->Commit(gid);
        if (!s.ok()) ++failures;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures, 0);
  int committed_per_thread = kPerThread - (kPerThread + 2) / 3;
  EXPECT_EQ(Count("SELECT count(*) FROM kv"), kThreads * committed_per_thread);
  std::vector<InDoubtTxn> got;
  ASSERT_TRUE(p_->ListInDoubt("conc:", &got).ok());
  EXPECT_TRUE(got.empty());
  EXPECT_LE(p_->pool()->stats().opened_total, 4u) << "the pool never exceeds max_connections";
}

// --- The pool -------------------------------------------------------------

int BackendPid(PgPool::Lease& lease) {
  pqxx::nontransaction tx(lease.conn());
  return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
}

void TerminateAndWait(int pid) {
  Sql("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  for (int i = 0; i < 500; ++i) {
    if (Count("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid)) == 0) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "backend " << pid << " did not go away";
}

using PgPoolTest = ScratchDbTest;

TEST_F(PgPoolTest, ReusesConnectionsAndDropsDeadOnes) {
  PgPool::Options o;
  o.dsn = g_dsn;
  o.max_connections = 2;
  std::shared_ptr<PgPool> pool;
  ASSERT_TRUE(PgPool::Create(o, &pool).ok());
  int pid1;
  {
    PgPool::Lease l;
    ASSERT_TRUE(pool->Acquire(&l).ok());
    pid1 = BackendPid(l);
  }
  {
    PgPool::Lease l;
    ASSERT_TRUE(pool->Acquire(&l).ok());
    EXPECT_EQ(BackendPid(l), pid1) << "an idle connection is reused";
    pqxx::nontransaction tx(l.conn());
    EXPECT_EQ(tx.exec1("SHOW statement_timeout")[0].as<std::string>(), "30s");
    EXPECT_EQ(tx.exec1("SHOW application_name")[0].as<std::string>(), "dualwrite");
  }
  // The server ends an idle pooled connection (restart, admin): the pool
  // notices before handing it out.
  TerminateAndWait(pid1);
  {
    PgPool::Lease l;
    Status s = pool->Acquire(&l);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_NE(BackendPid(l), pid1);
  }
  EXPECT_EQ(pool->stats().dropped_total, 1u);
  EXPECT_EQ(pool->stats().open, 1);

  // A connection that breaks while leased is dropped, not silently reconnected.
  {
    PgPool::Lease l;
    ASSERT_TRUE(pool->Acquire(&l).ok());
    int pid = BackendPid(l);
    Status s;
    try {
      pqxx::work tx(l.conn());
      tx.exec1("SELECT 1");
      TerminateAndWait(pid);
      tx.exec0("SELECT 1");
      tx.commit();
    } catch (...) {
      s = dw::StatusFromPgException(&l, "test");
    }
    EXPECT_FALSE(s.ok());
  }
  EXPECT_EQ(pool->stats().open, 0);
  EXPECT_EQ(pool->stats().dropped_total, 2u);
}

TEST_F(PgPoolTest, BoundedByMaxConnections) {
  PgPool::Options o;
  o.dsn = g_dsn;
  o.max_connections = 2;
  o.acquire_timeout = std::chrono::milliseconds(200);
  std::shared_ptr<PgPool> pool;
  ASSERT_TRUE(PgPool::Create(o, &pool).ok());
  PgPool::Lease a, b, c;
  ASSERT_TRUE(pool->Acquire(&a).ok());
  ASSERT_TRUE(pool->Acquire(&b).ok());
  Status s = pool->Acquire(&c);
  EXPECT_EQ(s.code(), Status::Code::kTimeout) << s.ToString();
  // A lease handed back wakes a waiter.
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    a.Reset();
  });
  s = pool->Acquire(&c);  // waits up to 200 ms; the release comes after 50 ms
  t.join();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pool->stats().opened_total, 2u);
}

TEST(PgUnreachableTest, UnavailableWithoutPassword) {
  int port = dw::FreeTcpPort();
  PgPool::Options o;
  o.dsn = "host=127.0.0.1 port=" + std::to_string(port) +
          " dbname=nope user=postgres password=hunter2-secret";
  auto start = Clock::now();
  std::unique_ptr<PostgresParticipant> p;
  Status s = PostgresParticipant::Create(o, PostgresParticipant::Options{}, &p);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << "one line: " << s.message();
  EXPECT_NE(s.message().find(std::to_string(port)), std::string::npos) << s.message();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

// --- Private clusters -----------------------------------------------------

// A cluster of the test's own (the shared one must not be killed).
using PrivateCluster = dw::testing::ThrowawayCluster;

// From now on every commit waits for a synchronous standby that does not
// exist (after flushing its commit record locally). Set after the test's
// setup, which would hang otherwise.
//
// SHOW seeing the new value is not enough: a commit waits only once the
// checkpointer has processed the reload too (it publishes that standbys are
// defined), which lags under load. So a probe transaction that writes WAL
// (so its commit waits) must be seen in the SyncRep wait; pg_cancel_backend then
// releases it (its commit is already durable locally, the cancel only ends
// the wait). A probe that committed without waiting came too early: retry.
void RequireGhostStandby(const std::string& dsn) {
  Sql("ALTER SYSTEM SET synchronous_standby_names = 'ghost_standby'", dsn);
  Sql("SELECT pg_reload_conf()", dsn);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    pqxx::connection probe{dsn};
    const std::string pid = std::to_string(probe.backendpid());
    std::atomic<bool> done{false};
    std::thread t([&] {
      try {
        pqxx::work tx{probe};
        // A commit waits for the standby only when its transaction wrote
        // WAL of its own (an xid alone is not enough): a temp table does.
        tx.exec("CREATE TEMP TABLE dw_syncrep_probe ON COMMIT DROP AS SELECT 1 AS x");
        tx.commit();
      } catch (...) {
      }
      done = true;
    });
    bool waited = false;
    // Until the probe ends: cancel it as soon as it sits in the wait. Never
    // join a probe that may still be waiting for a standby that never comes.
    while (!done) {
      if (Count("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid +
                    " AND wait_event = 'SyncRep'",
                dsn) > 0) {
        waited = true;
        Sql("SELECT pg_cancel_backend(" + pid + ")", dsn);
        for (int i = 0; i < 500 && !done; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (!done) Sql("SELECT pg_terminate_backend(" + pid + ")", dsn);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    t.join();
    if (waited) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "commits never started waiting for the synchronous standby";
}

TEST(PgPrivateClusterTest, TwoPhaseCommitDisabledIsFailedPreconditionWithTheFix) {
  PrivateCluster pc;
  std::string err = pc.Start({"max_prepared_transactions = 0"});
  if (err.find("not found") != std::string::npos) GTEST_SKIP() << err;
  ASSERT_EQ(err, "");
  PgPool::Options o;
  o.dsn = pc.dsn();
  std::unique_ptr<PostgresParticipant> p;
  Status s = PostgresParticipant::Create(o, PostgresParticipant::Options{}, &p);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(
      s.message().find("max_prepared_transactions is 0 on 127.0.0.1:" + std::to_string(pc.port())),
      std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("set max_prepared_transactions = 256 in postgresql.conf and restart"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(p, nullptr);
}

// The in-doubt window of phase 2. A synchronous standby that never comes
// makes COMMIT PREPARED hang after its commit record is flushed locally
// (the wait for the standby comes last); the server then dies under it.
// The participant cannot tell whether the commit happened: InDoubt. After
// the restart the truth is in pg_prepared_xacts: the gid is gone, the row is
// there, and a retried Commit reports NotFound (already resolved).
TEST(PgPrivateClusterTest, ServerDeathDuringCommitPreparedIsInDoubtThenResolved) {
  PrivateCluster pc;
  std::string err = pc.Start({"max_prepared_transactions = 8"});
  if (err.find("not found") != std::string::npos) GTEST_SKIP() << err;
  ASSERT_EQ(err, "");
  Sql("CREATE TABLE kv (id int PRIMARY KEY, v text)", pc.dsn());
  {
    pqxx::connection c(pc.dsn());
    pqxx::work tx(c);
    tx.exec0("INSERT INTO kv VALUES (1, 'in-doubt')");
    tx.exec0("PREPARE TRANSACTION 'indoubt:1'");
    tx.commit();
  }
  ASSERT_NO_FATAL_FAILURE(RequireGhostStandby(pc.dsn()));
  PgPool::Options o;
  o.dsn = pc.dsn();
  o.connect_timeout = std::chrono::seconds(2);
  PostgresParticipant::Options po;
  po.finish_attempts = 3;
  std::unique_ptr<PostgresParticipant> p;
  ASSERT_TRUE(PostgresParticipant::Create(o, po, &p).ok());

  std::atomic<bool> killed{false};
  std::thread killer([&] {
    // Wait for COMMIT PREPARED to sit in the synchronous-replication wait.
    for (auto deadline = Clock::now() + std::chrono::seconds(20); Clock::now() < deadline;) {
      if (Count("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'", pc.dsn()) >
          0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    killed = pc.PgCtl("stop", "immediate").empty();
  });
  Status s = p->Commit("indoubt:1");
  killer.join();
  ASSERT_TRUE(killed);
  EXPECT_EQ(s.code(), Status::Code::kInDoubt) << s.ToString();

  ASSERT_EQ(pc.PgCtl("start"), "");
  EXPECT_FALSE(PreparedListed("indoubt:1", pc.dsn())) << "the commit was durable before the crash";
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE v = 'in-doubt'", pc.dsn()), 1);
  Status again = p->Commit("indoubt:1");
  EXPECT_TRUE(again.IsNotFound()) << again.ToString();
}

// Same hang, but only the connection dies (an admin terminates the backend):
// the participant resolves it itself from pg_prepared_xacts on a fresh
// connection and reports the commit as done.
TEST(PgPrivateClusterTest, ConnectionLossDuringCommitPreparedResolvesFromPgPreparedXacts) {
  PrivateCluster pc;
  std::string err = pc.Start({"max_prepared_transactions = 8"});
  if (err.find("not found") != std::string::npos) GTEST_SKIP() << err;
  ASSERT_EQ(err, "");
  Sql("CREATE TABLE kv (id int PRIMARY KEY, v text)", pc.dsn());
  {
    pqxx::connection c(pc.dsn());
    pqxx::work tx(c);
    tx.exec0("INSERT INTO kv VALUES (1, 'resolved')");
    tx.exec0("PREPARE TRANSACTION 'resolve:1'");
    tx.commit();
  }
  ASSERT_NO_FATAL_FAILURE(RequireGhostStandby(pc.dsn()));
  PgPool::Options o;
  o.dsn = pc.dsn();
  std::unique_ptr<PostgresParticipant> p;
  ASSERT_TRUE(PostgresParticipant::Create(o, PostgresParticipant::Options{}, &p).ok());
  std::thread killer([&] {
    for (auto deadline = Clock::now() + std::chrono::seconds(20); Clock::now() < deadline;) {
      if (Count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE wait_event = 'SyncRep'",
                pc.dsn()) > 0) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  Status s = p->Commit("resolve:1");
  killer.join();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(PreparedListed("resolve:1", pc.dsn()));
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE v = 'resolved'", pc.dsn()), 1);
  EXPECT_GE(p->pool()->stats().dropped_total, 1u) << "the broken connection was not reused";
}

}  // namespace
