// The Postgres participant's calls in two halves (StartPrepare, StartCommit,
// StartAbort), against the shared test cluster: several calls on their way
// at once from one thread, each answering what the blocking call would.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "participants/pg_pool.h"
#include "participants/postgres_participant.h"
#include "tests/support/test_support.h"

using dw::PgPool;
using dw::PostgresParticipant;
using dw::SqlStatement;
using dw::StartedCall;
using dw::Status;
using dw::Work;

namespace {

class PgStartedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = dw::testing::ScratchDatabase(dw::testing::TestDatabaseName("ppgs"));
    ASSERT_FALSE(dsn_.empty()) << "no scratch database";
    Sql("CREATE TABLE kv (id int PRIMARY KEY, v text)");
    PgPool::Options po;
    po.dsn = dsn_;
    po.max_connections = 8;
    po.statement_timeout = std::chrono::seconds(30);
    PostgresParticipant::Options opts;
    opts.call_deadline = std::chrono::seconds(10);  // startable only with a deadline
    ASSERT_TRUE(PostgresParticipant::Create(po, opts, &p_).ok());
  }

  pqxx::result Sql(const std::string& sql) {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    return tx.exec(sql);
  }
  int64_t Count(const std::string& sql) { return Sql(sql)[0][0].as<int64_t>(); }
  int64_t Prepared() {
    return Count("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()");
  }

  static Work Insert(int id) {
    Work w;
    w.statements.push_back(SqlStatement{"INSERT INTO kv (id, v) VALUES ($1, $2)",
                                        {std::to_string(id), "v" + std::to_string(id)}});
    return w;
  }

  std::string dsn_;
  std::unique_ptr<PostgresParticipant> p_;
};

TEST_F(PgStartedTest, StartableOnlyWithACallDeadline) {
  EXPECT_TRUE(p_->CallsStartable());
  PgPool::Options po;
  po.dsn = dsn_;
  std::unique_ptr<PostgresParticipant> unbounded;
  ASSERT_TRUE(PostgresParticipant::Create(po, PostgresParticipant::Options{}, &unbounded).ok());
  EXPECT_FALSE(unbounded->CallsStartable());
}

// Four prepares on their way before any answer is read, then four commits:
// every row committed, nothing left prepared.
TEST_F(PgStartedTest, SeveralPreparesAndCommitsInFlightFromOneThread) {
  std::vector<std::unique_ptr<StartedCall>> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(p_->StartPrepare("t1:s" + std::to_string(i), Insert(i)));
    ASSERT_NE(calls.back(), nullptr);
  }
  for (auto& c : calls) {
    Status s = c->Finish();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(Prepared(), 4);
  EXPECT_EQ(Count("SELECT count(*) FROM kv"), 0) << "prepared, not visible";
  calls.clear();
  for (int i = 0; i < 4; ++i) calls.push_back(p_->StartCommit("t1:s" + std::to_string(i)));
  for (auto& c : calls) {
    Status s = c->Finish();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(Prepared(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM kv"), 4);
}

// A statement that fails votes abort with the server's error and stages
// nothing; the connection it leaves in an aborted block is not reused.
TEST_F(PgStartedTest, FailingPrepareStagesNothingAndTheNextCallWorks) {
  Sql("INSERT INTO kv VALUES (7, 'there')");
  auto bad = p_->StartPrepare("t1:dup", Insert(7));
  ASSERT_NE(bad, nullptr);
  Status s = bad->Finish();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("duplicate key"), std::string::npos) << s.ToString();
  EXPECT_EQ(Prepared(), 0);
  for (int i = 0; i < 3; ++i) {
    auto good = p_->StartPrepare("t1:ok" + std::to_string(i), Insert(10 + i));
    ASSERT_NE(good, nullptr);
    ASSERT_TRUE(good->Finish().ok());
    ASSERT_TRUE(p_->StartAbort("t1:ok" + std::to_string(i))->Finish().ok());
  }
  EXPECT_EQ(Prepared(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM kv"), 1);
}

// Unknown gids as the blocking calls answer them: commit NotFound, abort OK
// (presumed abort); a gid prepared elsewhere is committed by a started call.
TEST_F(PgStartedTest, UnknownGidsAndAGidPreparedByAnotherSession) {
  EXPECT_TRUE(p_->StartCommit("t1:nope")->Finish().IsNotFound());
  EXPECT_TRUE(p_->StartAbort("t1:nope")->Finish().ok());
  ASSERT_TRUE(p_->Prepare("t1:other", Insert(1)).ok());  // the blocking call
  ASSERT_TRUE(p_->StartCommit("t1:other")->Finish().ok());
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE id = 1"), 1);
  EXPECT_TRUE(p_->StartCommit("t1:other")->Finish().IsNotFound()) << "committed before";
}

// A statement with expect_rows: each part's own result is read, so the
// started form takes it. One that changed the wrong number of rows votes
// abort, naming the statement, and leaves nothing prepared (the PREPARE
// that travelled with it is rolled back); one that matched prepares.
TEST_F(PgStartedTest, ExpectRowsIsCheckedAndAMismatchLeavesNothingPrepared) {
  Sql("INSERT INTO kv VALUES (3, 'old')");
  auto update = [](int id) {
    Work w;
    w.statements.push_back(
        SqlStatement{"UPDATE kv SET v = 'new' WHERE id = $1", {std::to_string(id)}, 1});
    return w;
  };
  auto miss = p_->StartPrepare("t1:miss", update(99));
  ASSERT_NE(miss, nullptr);
  auto hit = p_->StartPrepare("t1:hit", update(3));
  ASSERT_NE(hit, nullptr);
  Status s = miss->Finish();
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
  EXPECT_NE(s.message().find("changed 0 rows, not 1"), std::string::npos) << s.ToString();
  ASSERT_TRUE(hit->Finish().ok());
  EXPECT_EQ(Prepared(), 1) << "only t1:hit";
  ASSERT_TRUE(p_->StartCommit("t1:hit")->Finish().ok());
  EXPECT_EQ(Sql("SELECT v FROM kv WHERE id = 3")[0][0].as<std::string>(), "new");
  EXPECT_EQ(p_->StartPrepare("bad gid!", update(3))->Finish().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(Prepared(), 0);
}

// The one-phase commit of --lrco, started: several on their way at once,
// each committed when its Finish answers; one that fails commits nothing.
TEST_F(PgStartedTest, OnePhaseCommitsInFlightFromOneThread) {
  std::vector<std::unique_ptr<StartedCall>> calls;
  for (int i = 40; i < 43; ++i) {
    calls.push_back(p_->StartCommitOnePhase(Insert(i)));
    ASSERT_NE(calls.back(), nullptr);
  }
  auto dup = p_->StartCommitOnePhase(Insert(40));  // the same key again: 23505
  ASSERT_NE(dup, nullptr);
  for (auto& c : calls) {
    Status s = c->Finish();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  Status s = dup->Finish();
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.IsOutcomeUnknown()) << s.ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE id BETWEEN 40 AND 42"), 3);
  EXPECT_EQ(Prepared(), 0);
  Work rows = Insert(50);
  rows.statements[0].expect_rows = 1;
  EXPECT_EQ(p_->StartCommitOnePhase(rows), nullptr) << "a row count it could not take back";
}

// A started call dropped without Finish leaves no connection in an unknown
// state behind: the pool's next calls work.
TEST_F(PgStartedTest, AnAbandonedStartedCallDoesNotPoisonThePool) {
  { auto dropped = p_->StartPrepare("t1:dropped", Insert(20)); }
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(p_->StartPrepare("t1:n" + std::to_string(i), Insert(30 + i))->Finish().ok());
    ASSERT_TRUE(p_->StartCommit("t1:n" + std::to_string(i))->Finish().ok());
  }
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE id >= 30"), 10);
  // The dropped prepare may still land (the server had the whole message)
  // until its backend is gone; then presumed abort cleans it up.
  for (int i = 0; i < 200; ++i) {
    if (Count("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
              "AND pid <> pg_backend_pid() AND query LIKE '%t1:dropped%'") == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(p_->Abort("t1:dropped").ok());
  EXPECT_EQ(Prepared(), 0);
}

// A session that ends while its started call runs (here a statement of the
// work terminates its own backend, as an administrator or a restart would):
// the prepare answers Unavailable with the server's reason, stages nothing,
// and its connection is dropped, not reused; a one-phase commit that lost
// its session answers InDoubt, as CommitOnePhase does.
TEST_F(PgStartedTest, ASessionEndedMidCallIsUnavailableAndItsConnectionDropped) {
  auto killer = [](int id) {
    Work w = Insert(id);
    w.statements.push_back(SqlStatement{"SELECT pg_terminate_backend(pg_backend_pid())", {}});
    return w;
  };
  const uint64_t dropped = p_->pool()->stats().dropped_total;
  auto prepare = p_->StartPrepare("t1:killed", killer(60));
  ASSERT_NE(prepare, nullptr);
  Status s = prepare->Finish();
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("57P01"), std::string::npos) << s.ToString();
  auto one_phase = p_->StartCommitOnePhase(killer(61));
  ASSERT_NE(one_phase, nullptr);
  s = one_phase->Finish();
  EXPECT_EQ(s.code(), Status::Code::kInDoubt) << s.ToString();
  EXPECT_EQ(p_->pool()->stats().dropped_total, dropped + 2);
  EXPECT_EQ(Prepared(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE id IN (60, 61)"), 0);
  ASSERT_TRUE(p_->StartPrepare("t1:after", Insert(62))->Finish().ok());
  ASSERT_TRUE(p_->StartCommit("t1:after")->Finish().ok());
  EXPECT_EQ(Count("SELECT count(*) FROM kv WHERE id = 62"), 1);
}

}  // namespace
