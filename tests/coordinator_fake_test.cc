// The coordinator's protocol and recovery in process, against scripted
// participants (FakeParticipant) and an in-memory decision log
// (MemoryDecisionLog): which calls each phase makes, and which it must not,
// when a participant votes abort, times out, answers NotFound, or the
// decision cannot be written. No server is started.
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/coordinator.h"
#include "coordinator/gid.h"
#include "tests/support/fake_participant.h"
#include "tests/support/memory_decision_log.h"

namespace dw::coord {
namespace {

using namespace std::chrono_literals;
using testing::FakeParticipant;
using testing::MemoryDecisionLog;
using M = FakeParticipant::Method;

class CoordinatorFakeTest : public ::testing::Test {
 protected:
  CoordinatorFakeTest()
      : db_(std::make_shared<FakeParticipant>("db")),
        broker_(std::make_shared<FakeParticipant>("broker")) {
    opts_.id = "t1";
    opts_.call_timeout = 2000ms;
    opts_.recovery_interval = 0ms;  // passes run only when a test asks
    opts_.recover_at_start = false;
    opts_.backoff_initial = 1ms;
    opts_.backoff_max = 4ms;
    opts_.background_workers = 1;
    opts_.max_call_threads = 8;
  }

  // Creates the coordinator over db_ and broker_; log_ points at its log.
  void Start() {
    auto log = std::make_unique<MemoryDecisionLog>();
    log_ = log.get();
    if (setup_log_) setup_log_(log_);
    std::vector<Member> members{{db_, 0, nullptr}, {broker_, 0, nullptr}};
    ASSERT_TRUE(Coordinator::Create(opts_, std::move(members), std::move(log), &coord_).ok());
  }

  // A transaction that involves both participants.
  TxnResult Run() {
    Work db_work;
    db_work.statements.push_back({"INSERT INTO orders VALUES ($1)", {"1"}});
    Work broker_work;
    broker_work.messages.push_back({"orders", "order-1", "1", "{}"});
    return coord_->Execute({db_work, broker_work});
  }

  // n transactions like Run's (order ids 1..n), through ExecuteBatch.
  std::vector<TxnResult> RunBatch(int n) {
    std::vector<std::vector<Work>> batch;
    for (int i = 1; i <= n; ++i) {
      Work db_work;
      db_work.statements.push_back({"INSERT INTO orders VALUES ($1)", {std::to_string(i)}});
      Work broker_work;
      broker_work.messages.push_back({"orders", "order-" + std::to_string(i), "1", "{}"});
      batch.push_back({db_work, broker_work});
    }
    return coord_->ExecuteBatch(batch);
  }

  // Both participants start their calls: ExecuteBatch drives in lockstep.
  void Startable() {
    for (FakeParticipant* p : Both()) {
      p->set_bounded(true);
      p->set_startable(true);
    }
  }

  // Both participants, for expectations that hold at each.
  std::vector<FakeParticipant*> Both() { return {db_.get(), broker_.get()}; }

  CoordinatorOptions opts_;
  std::shared_ptr<FakeParticipant> db_;
  std::shared_ptr<FakeParticipant> broker_;
  std::function<void(MemoryDecisionLog*)> setup_log_;
  MemoryDecisionLog* log_ = nullptr;
  std::unique_ptr<Coordinator> coord_;
};

TEST_F(CoordinatorFakeTest, AllVoteCommitCommitsEverywhere) {
  Start();
  TxnResult r = Run();
  ASSERT_EQ(r.outcome, TxnOutcome::kCommitted) << r.status.ToString();
  EXPECT_FALSE(r.phase2_pending);
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->calls(M::kPrepare), 1) << p->name();
    EXPECT_EQ(p->calls(M::kCommit), 1) << p->name();
    EXPECT_EQ(p->calls(M::kAbort), 0) << p->name();
    EXPECT_EQ(p->committed(), std::set<std::string>{r.gid}) << p->name();
    EXPECT_TRUE(p->prepared().empty()) << p->name();
  }
  EXPECT_EQ(log_->commits(), std::set<std::string>{r.gid});
  EXPECT_EQ(log_->ended(), std::set<std::string>{r.gid}) << "END once all acknowledged";
  EXPECT_EQ(log_->expected(), 0);
}

TEST_F(CoordinatorFakeTest, OneAbortVoteAbortsEverywhereAndCommitsNothing) {
  Start();
  broker_->Answer(M::kPrepare, Status::Aborted("vote abort"));
  TxnResult r = Run();
  ASSERT_EQ(r.outcome, TxnOutcome::kAborted);
  EXPECT_TRUE(r.status.IsAborted()) << r.status.ToString();
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->calls(M::kCommit), 0) << p->name();
    EXPECT_TRUE(p->committed().empty()) << p->name();
    EXPECT_TRUE(p->prepared().empty()) << p->name();
  }
  EXPECT_EQ(db_->aborted(), std::set<std::string>{r.gid}) << "the yes voter is rolled back";
  EXPECT_EQ(broker_->calls(M::kAbort), 0) << "an abort vote staged nothing";
  EXPECT_TRUE(log_->commits().empty()) << "presumed abort: nothing logged";
  EXPECT_EQ(log_->expected(), 0);
}

TEST_F(CoordinatorFakeTest, PrepareTimeoutAbortsAndRecoveryAbortsTheLatePrepare) {
  opts_.call_timeout = 100ms;
  Start();
  broker_->Delay(M::kPrepare, 400ms);
  TxnResult r = Run();
  ASSERT_EQ(r.outcome, TxnOutcome::kAborted);
  EXPECT_TRUE(r.status.IsOutcomeUnknown()) << r.status.ToString();
  EXPECT_EQ(db_->calls(M::kCommit) + broker_->calls(M::kCommit), 0);
  EXPECT_EQ(db_->aborted(), std::set<std::string>{r.gid});
  EXPECT_EQ(broker_->calls(M::kAbort), 1) << "no answer is no vote: its prepare may land";
  EXPECT_TRUE(log_->commits().empty());

  // The abandoned prepare lands after its abort ...
  for (int i = 0; i < 200 && broker_->prepared().empty(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(broker_->prepared(), std::set<std::string>{r.gid});
  // ... and recovery finds no COMMIT for it: presumed abort.
  RecoveryReport rep;
  EXPECT_TRUE(coord_->Recover(&rep).ok()) << rep.ToText();
  EXPECT_EQ(rep.aborted, 1u);
  EXPECT_TRUE(broker_->prepared().empty());
  EXPECT_EQ(broker_->aborted(), std::set<std::string>{r.gid});
  EXPECT_TRUE(broker_->committed().empty());
}

TEST_F(CoordinatorFakeTest, FailedDecisionWriteSendsNoCommit) {
  Start();
  log_->FailCommits(Status::IOError("decision log: injected write failure"));
  TxnResult r = Run();
  ASSERT_EQ(r.outcome, TxnOutcome::kAborted);
  EXPECT_EQ(r.status.code(), Status::Code::kIOError);
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->calls(M::kCommit), 0) << p->name();
    EXPECT_EQ(p->aborted(), std::set<std::string>{r.gid}) << p->name();
  }
  EXPECT_TRUE(log_->commits().empty());
  EXPECT_EQ(log_->expected(), 0);
}

TEST_F(CoordinatorFakeTest, UnknownDecisionIsLeftToRecoveryWhichFollowsTheLog) {
  Start();
  // The COMMIT reached the log, but its answer was lost.
  log_->FailCommits(Status::InDoubt("decision log: answer lost"), 1, /*durable=*/true);
  TxnResult r = Run();
  ASSERT_EQ(r.outcome, TxnOutcome::kFailed);
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->calls(M::kCommit), 0) << p->name() << ": neither commit ...";
    EXPECT_EQ(p->calls(M::kAbort), 0) << p->name() << ": ... nor abort is safe";
    EXPECT_EQ(p->prepared(), std::set<std::string>{r.gid}) << p->name();
  }
  EXPECT_EQ(coord_->stats().left_to_recovery, 1u);
  RecoveryReport rep;
  EXPECT_TRUE(coord_->Recover(&rep).ok()) << rep.ToText();
  EXPECT_EQ(rep.committed, 2u);
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->committed(), std::set<std::string>{r.gid}) << p->name();
  }
  EXPECT_EQ(log_->ended(), std::set<std::string>{r.gid});
}

TEST_F(CoordinatorFakeTest, CommitIsRetriedUntilAcknowledged) {
  Start();
  broker_->Answer(M::kCommit, Status::Unavailable("broker away"), 2);
  TxnResult r = Run();
  ASSERT_EQ(r.outcome, TxnOutcome::kCommitted);
  EXPECT_FALSE(r.phase2_pending);
  EXPECT_EQ(broker_->calls(M::kCommit), 3);
  EXPECT_EQ(db_->calls(M::kCommit), 1) << "only the unacknowledged member is retried";
  EXPECT_EQ(broker_->committed(), std::set<std::string>{r.gid});
  EXPECT_EQ(coord_->stats().phase2_retries, 2u);
}

TEST_F(CoordinatorFakeTest, CommitNotFoundCountsAsAlreadyCommitted) {
  Start();
  // An earlier attempt committed it and its answer was lost.
  broker_->Answer(M::kCommit, Status::NotFound("no such prepared gid"));
  TxnResult r = Run();
  ASSERT_EQ(r.outcome, TxnOutcome::kCommitted);
  EXPECT_EQ(broker_->calls(M::kCommit), 1) << "not retried";
  EXPECT_EQ(log_->ended(), std::set<std::string>{r.gid});
}

// The pairing of a Postgres member (bounded by its call deadline) and the
// broker (whose calls can be started): each phase runs on the caller's
// thread, the broker's request started, the other call made meanwhile, and
// the pool never starts a thread. The outcome is the same as through it.
TEST_F(CoordinatorFakeTest, AStartableAndABoundedMemberRunEveryPhaseOnTheCallersThread) {
  db_->set_bounded(true);
  broker_->set_bounded(true);
  broker_->set_startable(true);
  Start();
  for (int i = 0; i < 3; ++i) {
    TxnResult r = Run();
    ASSERT_EQ(r.outcome, TxnOutcome::kCommitted) << r.status.ToString();
  }
  EXPECT_EQ(broker_->started(), 6) << "3 prepares and 3 commits started";
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->calls(M::kPrepare), 3) << p->name();
    EXPECT_EQ(p->calls(M::kCommit), 3) << p->name();
    EXPECT_EQ(p->committed().size(), 3u) << p->name();
  }
  EXPECT_EQ(coord_->stats().call_threads, 0);

  // A vote abort read from a started prepare aborts both, the started way too.
  broker_->Answer(M::kPrepare, Status::Aborted("vote abort"));
  TxnResult r = Run();
  ASSERT_EQ(r.outcome, TxnOutcome::kAborted);
  EXPECT_TRUE(r.status.IsAborted()) << r.status.ToString();
  EXPECT_EQ(db_->aborted(), std::set<std::string>{r.gid});
  EXPECT_EQ(broker_->calls(M::kCommit), 3) << "nothing more committed";
  // A commit answered NotFound from a started call counts as done, as ever.
  broker_->Answer(M::kCommit, Status::NotFound("no such prepared gid"));
  r = Run();
  ASSERT_EQ(r.outcome, TxnOutcome::kCommitted) << r.status.ToString();
  EXPECT_TRUE(log_->ended().count(r.gid));
  EXPECT_EQ(coord_->stats().call_threads, 0);
}

// A member that neither starts nor bounds its calls (Postgres without a call
// deadline), or a step hook (crash points), sends the phase through the pool.
TEST_F(CoordinatorFakeTest, AnUnboundedMemberOrAStepHookUsesThePool) {
  broker_->set_bounded(true);
  broker_->set_startable(true);
  Start();
  ASSERT_EQ(Run().outcome, TxnOutcome::kCommitted);
  EXPECT_GE(coord_->stats().call_threads, 1);
  EXPECT_EQ(broker_->started(), 0) << "run on this thread instead, the pool's call beside it";

  db_->set_bounded(true);
  int steps = 0;
  opts_.on_step = [&](Step, const std::string&, int64_t) { ++steps; };
  Start();
  ASSERT_EQ(Run().outcome, TxnOutcome::kCommitted);
  EXPECT_GE(coord_->stats().call_threads, 1);
  EXPECT_EQ(broker_->started(), 0);
  EXPECT_GT(steps, 0);
}

// Recovery at start, over what a dead coordinator "t1" left behind.
class CoordinatorFakeRecoveryTest : public CoordinatorFakeTest {
 protected:
  CoordinatorFakeRecoveryTest() { opts_.recover_at_start = true; }
  const std::string gid_ = FormatGid("t1", 5);
};

TEST_F(CoordinatorFakeRecoveryTest, CommitRecordCommitsThePreparedBranches) {
  db_->AddPrepared(gid_);
  broker_->AddPrepared(gid_);
  setup_log_ = [&](MemoryDecisionLog* log) { log->AddCommit(gid_); };
  Start();
  const RecoveryReport rep = coord_->stats().recovery;
  EXPECT_EQ(rep.listed, 2u);
  EXPECT_EQ(rep.committed, 2u);
  EXPECT_TRUE(rep.errors.empty()) << rep.ToText();
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->committed(), std::set<std::string>{gid_}) << p->name();
    EXPECT_EQ(p->calls(M::kAbort), 0) << p->name();
  }
  EXPECT_EQ(log_->ended(), std::set<std::string>{gid_});
}

TEST_F(CoordinatorFakeRecoveryTest, NoRecordIsPresumedAbortAtEveryParticipant) {
  db_->AddPrepared(gid_);  // the broker never got its prepare, or it is still on its way
  Start();
  const RecoveryReport rep = coord_->stats().recovery;
  EXPECT_EQ(rep.aborted, 1u);
  EXPECT_TRUE(rep.errors.empty()) << rep.ToText();
  EXPECT_EQ(db_->aborted(), std::set<std::string>{gid_});
  EXPECT_EQ(broker_->calls(M::kAbort), 1) << "also where it was not listed";
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->calls(M::kCommit), 0) << p->name();
    EXPECT_TRUE(p->prepared().empty()) << p->name();
  }
  // The abort is fixed: a late decision for the gid can no longer commit.
  EXPECT_TRUE(log_->LogCommit(gid_).IsAborted());
}

TEST_F(CoordinatorFakeRecoveryTest, CommitNotFoundIsTakenAsAlreadyDone) {
  db_->AddPrepared(gid_);
  broker_->AddPrepared(gid_);
  db_->Answer(M::kCommit, Status::NotFound("committed by someone else meanwhile"));
  setup_log_ = [&](MemoryDecisionLog* log) { log->AddCommit(gid_); };
  Start();
  const RecoveryReport rep = coord_->stats().recovery;
  EXPECT_EQ(rep.committed, 2u);
  EXPECT_TRUE(rep.errors.empty()) << rep.ToText();
  EXPECT_EQ(log_->ended(), std::set<std::string>{gid_}) << "nothing left to do for it";
}

// Postgres restarting: its listing fails, but the decision log answers a
// moment later. The commit must still reach it, and the decision may be
// ended only once it did: an early END would make the next pass presume
// abort for the Postgres branch, leaving the message without its row.
TEST_F(CoordinatorFakeRecoveryTest, CommitAlsoGoesWhereTheListingFailedAndEndsOnlyOnceAnswered) {
  db_->AddPrepared(gid_);
  broker_->AddPrepared(gid_);
  db_->Answer(M::kList, Status::Unavailable("the database system is starting up"));
  db_->Answer(M::kCommit, Status::Unavailable("the database system is starting up"));
  setup_log_ = [&](MemoryDecisionLog* log) { log->AddCommit(gid_); };
  Start();
  const RecoveryReport first = coord_->stats().recovery;
  EXPECT_EQ(broker_->committed(), std::set<std::string>{gid_});
  EXPECT_EQ(db_->prepared(), std::set<std::string>{gid_}) << "its commit failed: still prepared";
  EXPECT_EQ(db_->calls(M::kCommit), 1) << "sent although the listing had failed";
  EXPECT_TRUE(log_->ended().empty()) << "ended while Postgres may hold the gid";
  EXPECT_EQ(first.errors.size(), 2u) << first.ToText();

  RecoveryReport again;
  EXPECT_TRUE(coord_->Recover(&again).ok()) << again.ToText();
  EXPECT_EQ(db_->committed(), std::set<std::string>{gid_});
  for (FakeParticipant* p : Both()) EXPECT_EQ(p->calls(M::kAbort), 0) << p->name();
  EXPECT_EQ(log_->ended(), std::set<std::string>{gid_});
}

TEST_F(CoordinatorFakeRecoveryTest, OtherCoordinatorsAndFailedListingsAreLeftAlone) {
  const std::string other = FormatGid("t10", 5);
  db_->AddPrepared(other);
  broker_->Answer(M::kList, Status::Unavailable("broker away"));
  setup_log_ = [&](MemoryDecisionLog* log) { log->AddCommit(FormatGid("t1", 3)); };
  Start();
  const RecoveryReport rep = coord_->stats().recovery;
  EXPECT_EQ(rep.listed, 0u);
  EXPECT_EQ(db_->prepared(), std::set<std::string>{other});
  EXPECT_EQ(rep.errors.size(), 1u) << rep.ToText();
  // An open COMMIT is ended only once every participant could be listed.
  EXPECT_EQ(rep.ended, 0u);
  EXPECT_TRUE(log_->ended().empty());
  RecoveryReport again;
  EXPECT_TRUE(coord_->Recover(&again).ok()) << again.ToText();
  EXPECT_EQ(again.ended, 1u);
}

// ---- ExecuteBatch (batch.cc) ----

std::set<std::string> Gids(const std::vector<TxnResult>& rs, TxnOutcome o) {
  std::set<std::string> out;
  for (const TxnResult& r : rs) {
    if (r.outcome == o) out.insert(r.gid);
  }
  return out;
}

TEST_F(CoordinatorFakeTest, BatchInLockstepCommitsEveryTransaction) {
  Startable();
  Start();
  std::vector<TxnResult> rs = RunBatch(4);
  ASSERT_EQ(rs.size(), 4u);
  std::set<std::string> gids = Gids(rs, TxnOutcome::kCommitted);
  ASSERT_EQ(gids.size(), 4u);
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->started(), 8) << p->name() << ": 4 prepares + 4 commits, all started";
    EXPECT_EQ(p->committed(), gids) << p->name();
    EXPECT_TRUE(p->prepared().empty()) << p->name();
  }
  EXPECT_EQ(log_->commits(), gids);
  EXPECT_EQ(log_->ended(), gids);
  EXPECT_EQ(log_->expected(), 0);
}

// One transaction's abort vote aborts that one only, everywhere it may have
// prepared; the others of the batch commit.
TEST_F(CoordinatorFakeTest, BatchAbortVoteAbortsOnlyItsTransaction) {
  Startable();
  Start();
  db_->Answer(M::kPrepare, Status::Aborted("constraint"), 1);  // the batch's first prepare
  std::vector<TxnResult> rs = RunBatch(3);
  ASSERT_EQ(rs[0].outcome, TxnOutcome::kAborted) << rs[0].status.ToString();
  EXPECT_TRUE(rs[0].status.IsAborted());
  const std::set<std::string> rest{rs[1].gid, rs[2].gid};
  EXPECT_EQ(Gids(rs, TxnOutcome::kCommitted), rest);
  EXPECT_EQ(broker_->aborted(), std::set<std::string>{rs[0].gid});
  EXPECT_EQ(db_->calls(M::kAbort), 0) << "it voted abort: nothing to roll back there";
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->committed(), rest) << p->name();
    EXPECT_TRUE(p->prepared().empty()) << p->name();
  }
  EXPECT_EQ(log_->commits(), rest);
  EXPECT_EQ(log_->expected(), 0);
}

// A decision that cannot be written aborts its transaction, one whose
// answer was lost is left to recovery, and neither holds up the others.
TEST_F(CoordinatorFakeTest, BatchDecisionFailuresStayWithTheirTransactions) {
  Startable();
  Start();
  log_->FailCommits(Status::IOError("decision log: injected write failure"), 1);
  std::vector<TxnResult> rs = RunBatch(3);
  EXPECT_EQ(rs[0].outcome, TxnOutcome::kAborted);
  EXPECT_EQ(rs[0].status.code(), Status::Code::kIOError);
  EXPECT_EQ(Gids(rs, TxnOutcome::kCommitted), (std::set<std::string>{rs[1].gid, rs[2].gid}));
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->aborted(), std::set<std::string>{rs[0].gid}) << p->name();
  }
  log_->FailCommits(Status::InDoubt("decision log: answer lost"), 1, /*durable=*/true);
  rs = RunBatch(2);
  EXPECT_EQ(rs[0].outcome, TxnOutcome::kFailed);
  EXPECT_EQ(rs[1].outcome, TxnOutcome::kCommitted);
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->prepared().count(rs[0].gid), 1u) << p->name() << ": left prepared for recovery";
  }
  EXPECT_EQ(coord_->stats().left_to_recovery, 1u);
  EXPECT_EQ(log_->expected(), 0);
}

// Phase 2 retries, in lockstep rounds, only the unacknowledged commits.
TEST_F(CoordinatorFakeTest, BatchRetriesOnlyUnacknowledgedCommits) {
  Startable();
  Start();
  broker_->Answer(M::kCommit, Status::Unavailable("broker away"), 2);
  std::vector<TxnResult> rs = RunBatch(3);
  EXPECT_EQ(Gids(rs, TxnOutcome::kCommitted).size(), 3u);
  for (const TxnResult& r : rs) EXPECT_FALSE(r.phase2_pending);
  EXPECT_EQ(broker_->calls(M::kCommit), 5);
  EXPECT_EQ(db_->calls(M::kCommit), 3);
  EXPECT_EQ(coord_->stats().phase2_retries, 2u);
  EXPECT_EQ(broker_->committed().size(), 3u);
}

// A member that takes several branches in one request gets the batch's
// prepares in one and its commits in one (a retry round in one more); the
// other member is called branch by branch, and the results are the same.
TEST_F(CoordinatorFakeTest, BatchSendsAMembersBranchesInOneRequest) {
  Startable();
  broker_->set_takes_many(true);
  Start();
  std::vector<TxnResult> rs = RunBatch(4);
  std::set<std::string> gids = Gids(rs, TxnOutcome::kCommitted);
  ASSERT_EQ(gids.size(), 4u);
  EXPECT_EQ(broker_->many_requests(), 2) << "one prepare request, one commit request";
  EXPECT_EQ(db_->many_requests(), 0);
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->started(), 8) << p->name();
    EXPECT_EQ(p->committed(), gids) << p->name();
  }
  // An abort vote in the one request stays its transaction's; a commit not
  // acknowledged is retried, with the other unacknowledged one, together.
  broker_->Answer(M::kPrepare, Status::Aborted("no"), 1);
  broker_->Answer(M::kCommit, Status::Unavailable("broker away"), 2);
  rs = RunBatch(3);
  EXPECT_EQ(rs[0].outcome, TxnOutcome::kAborted);
  EXPECT_EQ(Gids(rs, TxnOutcome::kCommitted), (std::set<std::string>{rs[1].gid, rs[2].gid}));
  EXPECT_EQ(broker_->many_requests(), 2 + 3) << "prepare, commit, one retry round";
  EXPECT_EQ(coord_->stats().phase2_retries, 2u);
  EXPECT_EQ(db_->aborted(), std::set<std::string>{rs[0].gid});
}

// Without startable members the batch runs one transaction after the
// other, with the same results.
TEST_F(CoordinatorFakeTest, BatchWithoutStartableMembersRunsOneAfterTheOther) {
  Start();
  std::vector<TxnResult> rs = RunBatch(3);
  EXPECT_EQ(Gids(rs, TxnOutcome::kCommitted).size(), 3u);
  for (FakeParticipant* p : Both()) {
    EXPECT_EQ(p->started(), 0) << p->name();
    EXPECT_EQ(p->committed().size(), 3u) << p->name();
  }
}

}  // namespace
}  // namespace dw::coord
