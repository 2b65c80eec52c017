// Three-phase commit: the termination rule over every combination of
// states, and the durable state each participant keeps (Postgres: a
// prepared transaction plus dw_3pc_state rows; the broker: its precommit
// record), read back by a fresh reader as an agent restarted after SIGKILL
// would read it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "participants/broker_client.h"
#include "participants/broker_participant.h"
#include "participants/pg_pool.h"
#include "participants/postgres_participant.h"
#include "tests/support/test_support.h"
#include "threepc/coordinator.h"
#include "threepc/participant_state.h"
#include "threepc/state.h"

namespace dw::threepc {
namespace {

using S = State;

TEST(ThreePcRule, SkeensTerminationRule) {
  EXPECT_EQ(TerminationDecision({}), Decision::kNone);
  EXPECT_EQ(TerminationDecision({S::kUncertain, S::kUncertain}), Decision::kAbort);
  EXPECT_EQ(TerminationDecision({S::kUnknown, S::kUncertain}), Decision::kAbort);
  EXPECT_EQ(TerminationDecision({S::kUncertain, S::kPrecommitted}), Decision::kCommit);
  EXPECT_EQ(TerminationDecision({S::kPrecommitted}), Decision::kCommit);
  EXPECT_EQ(TerminationDecision({S::kPrecommitted, S::kCommitted}), Decision::kCommit);
  EXPECT_EQ(TerminationDecision({S::kUncertain, S::kAborted}), Decision::kAbort);
  EXPECT_EQ(TerminationDecision({S::kUnknown}), Decision::kAbort);
  // The partition: each side applies the rule to what it reaches, and the
  // two sides decide differently. The rule is only sound when unreachable
  // means crashed.
  EXPECT_EQ(TerminationDecision({S::kPrecommitted}), Decision::kCommit);
  EXPECT_EQ(TerminationDecision({S::kUncertain}), Decision::kAbort);
}

TEST(ThreePcRule, NamesRoundTrip) {
  for (S s : {S::kUnknown, S::kUncertain, S::kPrecommitted, S::kCommitted, S::kAborted}) {
    EXPECT_EQ(ParseState(StateName(s)), s);
  }
  EXPECT_FALSE(ParseState("prepared"));
  EXPECT_STREQ(DecisionName(Decision::kCommit), "commit");
}

std::string UniqueGid(const std::string& tag) {
  return "dw3:test-" + std::to_string(getpid()) + ":" + tag;
}

class PgState : public ::testing::Test {
 protected:
  void SetUp() override {
    // ctest runs each test as a process of its own, maybe in parallel: a
    // scratch database per test.
    dsn_ = dw::testing::ScratchDatabase(dw::testing::TestDatabaseName("tpc"));
    ASSERT_FALSE(dsn_.empty());
    ASSERT_TRUE(EnsurePgStateSchema(dsn_).ok());
    {
      pqxx::connection c(dsn_);
      pqxx::nontransaction tx(c);
      tx.exec0("CREATE TABLE IF NOT EXISTS t3 (id bigint PRIMARY KEY)");
    }
    PgPool::Options po;
    po.dsn = dsn_;
    po.max_connections = 2;
    ASSERT_TRUE(PgPool::Create(po, &pool_).ok());
    ASSERT_TRUE(PostgresParticipant::Create(pool_, {}, &pg_).ok());
  }
  void TearDown() override { pg_.reset(); }

  Status Prepare(const std::string& gid, int id) {
    Work w;
    w.statements.push_back({"INSERT INTO t3 VALUES ($1)", {std::to_string(id)}});
    return pg_->Prepare(gid, w);
  }
  // What a restarted agent sees: a reader with a pool of its own.
  State Fresh(const std::string& gid) {
    PgPool::Options po;
    po.dsn = dsn_;
    std::shared_ptr<PgPool> p;
    EXPECT_TRUE(PgPool::Create(po, &p).ok());
    PgParticipantState st(p);
    State out = S::kUnknown;
    Status s = st.Read(gid, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  int64_t Rows(int id) {
    pqxx::connection c(dsn_);
    pqxx::nontransaction tx(c);
    return tx.exec_params("SELECT count(*) FROM t3 WHERE id = $1", id)[0][0].as<int64_t>();
  }

  std::string dsn_;
  std::shared_ptr<PgPool> pool_;
  std::unique_ptr<PostgresParticipant> pg_;
};

TEST_F(PgState, PrecommitIsARowNextToThePreparedTransaction) {
  PgParticipantState st(pool_);
  const std::string gid = UniqueGid("pg-commit");
  EXPECT_EQ(Fresh(gid), S::kUnknown);
  EXPECT_TRUE(st.Precommit(gid).IsNotFound()) << "nothing prepared";
  ASSERT_TRUE(Prepare(gid, 1).ok());
  EXPECT_EQ(Fresh(gid), S::kUncertain);
  ASSERT_TRUE(st.Precommit(gid).ok());
  ASSERT_TRUE(st.Precommit(gid).ok()) << "idempotent";
  EXPECT_EQ(Fresh(gid), S::kPrecommitted);
  EXPECT_EQ(Rows(1), 0) << "precommitted is not committed";

  ASSERT_TRUE(pg_->Commit(gid).ok());
  // The agent died before its 'committed' row: the mark still says commit.
  EXPECT_EQ(Fresh(gid), S::kCommitted);
  ASSERT_TRUE(st.RecordOutcome(gid, true).ok());
  EXPECT_EQ(Fresh(gid), S::kCommitted);
  EXPECT_EQ(Rows(1), 1);
  EXPECT_TRUE(st.Precommit(gid).ok()) << "a late retry after the commit";
}

TEST_F(PgState, AnUncertainBranchAbortsAndIsRemembered) {
  PgParticipantState st(pool_);
  const std::string gid = UniqueGid("pg-abort");
  ASSERT_TRUE(Prepare(gid, 2).ok());
  EXPECT_EQ(Fresh(gid), S::kUncertain);
  ASSERT_TRUE(pg_->Abort(gid).ok());
  EXPECT_EQ(Fresh(gid), S::kUnknown) << "rolled back before any mark: presumed abort";
  ASSERT_TRUE(st.RecordOutcome(gid, false).ok());
  EXPECT_EQ(Fresh(gid), S::kAborted);
  EXPECT_EQ(st.Precommit(gid).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(Rows(2), 0);
}

// An abort marks 'aborted' before its ROLLBACK PREPARED: a precommitted
// branch killed in between reads aborted, and a late PreCommit is refused.
TEST_F(PgState, AnAbortMarkedBeforeItsRollbackReadsAborted) {
  PgParticipantState st(pool_);
  const std::string gid = UniqueGid("pg-abort-marked");
  ASSERT_TRUE(Prepare(gid, 3).ok());
  ASSERT_TRUE(st.Precommit(gid).ok());
  ASSERT_TRUE(st.RecordOutcome(gid, false).ok());
  EXPECT_EQ(Fresh(gid), S::kAborted) << "still prepared, the abort decided";
  EXPECT_EQ(st.Precommit(gid).code(), Status::Code::kFailedPrecondition);
  ASSERT_TRUE(pg_->Abort(gid).ok());
  EXPECT_EQ(Fresh(gid), S::kAborted);
  EXPECT_EQ(Rows(3), 0);
}

TEST(BrokerState, PrecommitIsTheBrokersDurableMark) {
  BrokerClient::Options bo;
  bo.url = dw::testing::SharedBrokerUrl();
  std::unique_ptr<BrokerClient> c;
  ASSERT_TRUE(BrokerClient::Create(bo, &c).ok());
  std::shared_ptr<BrokerClient> client(std::move(c));
  BrokerParticipantState st(client);
  const std::string gid = UniqueGid("broker");
  State s = S::kAborted;
  ASSERT_TRUE(st.Read(gid, &s).ok());
  EXPECT_EQ(s, S::kUnknown);
  EXPECT_TRUE(st.Precommit(gid).IsNotFound());
  OutMessage m{"threepc-test", gid, "k", "p"};
  ASSERT_TRUE(client->Prepare(gid, {m}).ok());
  ASSERT_TRUE(st.Read(gid, &s).ok());
  EXPECT_EQ(s, S::kUncertain);
  ASSERT_TRUE(st.Precommit(gid).ok());
  ASSERT_TRUE(st.Read(gid, &s).ok());
  EXPECT_EQ(s, S::kPrecommitted);
  ASSERT_TRUE(client->Commit(gid).ok());
  ASSERT_TRUE(st.Read(gid, &s).ok());
  EXPECT_EQ(s, S::kCommitted) << "no longer listed: the broker's answer to a precommit tells";
  const std::string aborted = UniqueGid("broker-abort");
  ASSERT_TRUE(client->Prepare(aborted, {OutMessage{"threepc-test", aborted, "k", "p"}}).ok());
  ASSERT_TRUE(client->Abort(aborted).ok());
  ASSERT_TRUE(st.Read(aborted, &s).ok());
  EXPECT_EQ(s, S::kAborted);
  ASSERT_TRUE(st.Read(UniqueGid("broker-never"), &s).ok());
  EXPECT_EQ(s, S::kUnknown) << "never prepared, and the read recorded nothing";
}

// A Postgres database (a scratch one) and the shared broker, as the two
// members of a 3PC transaction: the row `id` in t3 and a message with id
// `gid` on a topic of its own.
struct Parties {
  std::shared_ptr<PgPool> pool;
  std::unique_ptr<PostgresParticipant> pg;
  std::unique_ptr<PgParticipantState> pg_state;
  std::shared_ptr<BrokerClient> client;
  std::unique_ptr<BrokerParticipant> broker;
  std::unique_ptr<BrokerParticipantState> broker_state;

  explicit Parties(const std::string& dsn) {
    PgPool::Options po;
    po.dsn = dsn;
    po.max_connections = 2;
    EXPECT_TRUE(PgPool::Create(po, &pool).ok());
    EXPECT_TRUE(PostgresParticipant::Create(pool, {}, &pg).ok());
    pg_state = std::make_unique<PgParticipantState>(pool);
    BrokerClient::Options bo;
    bo.url = dw::testing::SharedBrokerUrl();
    std::unique_ptr<BrokerClient> c;
    EXPECT_TRUE(BrokerClient::Create(bo, &c).ok());
    client = std::move(c);
    broker = std::make_unique<BrokerParticipant>(client);
    broker_state = std::make_unique<BrokerParticipantState>(client);
  }
  // A topic per transaction: a crashing child and its parent name the same one.
  static std::string Topic(const std::string& gid) { return "t3-" + gid; }
  Member PgMember(const std::string& gid, int id) {
    Member m{pg.get(), pg_state.get(), gid, {}};
    m.work.statements.push_back({"INSERT INTO t3 VALUES ($1)", {std::to_string(id)}});
    return m;
  }
  Member BrokerMember(const std::string& gid) {
    Member m{broker.get(), broker_state.get(), gid, {}};
    m.work.messages.push_back({Topic(gid), gid, "k", "order placed"});
    return m;
  }
  std::vector<Member> Both(const std::string& gid, int id) {
    return {PgMember(gid, id), BrokerMember(gid)};
  }
  // Whether the broker's topic holds the message of `gid`.
  bool Published(const std::string& gid) {
    std::vector<BrokerMessage> msgs;
    uint64_t next = 0;
    EXPECT_TRUE(client->Read(Topic(gid), 0, 100, &msgs, &next).ok());
    for (const auto& m : msgs) {
      if (m.id == gid) return true;
    }
    return false;
  }
  bool PreparedAnywhere(const std::string& gid) {
    State a, b;
    EXPECT_TRUE(pg_state->Read(gid, &a).ok());
    EXPECT_TRUE(broker_state->Read(gid, &b).ok());
    return a == S::kUncertain || a == S::kPrecommitted || b == S::kUncertain ||
           b == S::kPrecommitted;
  }
};

using ThreePc = PgState;  // the same scratch database per test

TEST_F(ThreePc, CommitsAtEveryMemberAndLogsNothing) {
  Parties p(dsn_);
  for (int i = 0; i < 20; ++i) {
    const std::string gid = UniqueGid("clean-" + std::to_string(i));
    Status s = Coordinator().Execute(gid, p.Both(gid, 100 + i));
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(Rows(100 + i), 1);
    EXPECT_TRUE(p.Published(gid));
    EXPECT_FALSE(p.PreparedAnywhere(gid));
    EXPECT_EQ(Fresh(gid), S::kCommitted);
  }
}

TEST_F(ThreePc, ANoVoteAbortsEveryMember) {
  Parties p(dsn_);
  const std::string gid = UniqueGid("no-vote");
  ASSERT_TRUE(Coordinator().Execute(UniqueGid("first"), p.Both(UniqueGid("first"), 200)).ok());
  Status s = Coordinator().Execute(gid, p.Both(gid, 200));  // duplicate key: Postgres votes no
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
  EXPECT_FALSE(p.Published(gid));
  EXPECT_FALSE(p.PreparedAnywhere(gid));
}

// Runs one transaction in a child process that dies at `step`; returns its
// exit code. The child builds its own connections: nothing is shared with
// the parent but the servers.
int RunToCrash(const std::string& dsn, const std::string& gid, int id, Step step) {
  pid_t pid = fork();
  if (pid == 0) {
    Parties p(dsn);
    Status s = Coordinator(step).Execute(gid, p.Both(gid, id));
    _exit(s.ok() ? 0 : 1);  // not reached when the crash point fires
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Each crash point, no partition: the members' termination (every member
// reachable) decides alone, and the two parties agree. No recovery command,
// no decision log.
TEST_F(ThreePc, EveryCrashPointTerminatesAtomically) {
  struct Case {
    Step step;
    Decision expected;
  };
  const Case cases[] = {{Step::kAfterCanCommit, Decision::kAbort},
                        {Step::kAfterPrecommitSome, Decision::kCommit},
                        {Step::kAfterPrecommitAll, Decision::kCommit},
                        {Step::kAfterDoCommitSome, Decision::kCommit}};
  int id = 300;
  for (const auto& c : cases) {
    SCOPED_TRACE(StepName(c.step));
    const std::string gid = UniqueGid(std::string("crash-") + StepName(c.step));
    ASSERT_EQ(RunToCrash(dsn_, gid, id, c.step), 3);
    Parties p(dsn_);
    EXPECT_TRUE(p.PreparedAnywhere(gid) || c.step == Step::kAfterDoCommitSome)
        << "the crash left the transaction undecided";
    TerminationReport rep;
    Status s = Terminate(p.Both(gid, id), &rep);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(rep.decision, c.expected);
    const bool committed = c.expected == Decision::kCommit;
    EXPECT_EQ(Rows(id), committed ? 1 : 0);
    EXPECT_EQ(p.Published(gid), committed);
    EXPECT_FALSE(p.PreparedAnywhere(gid)) << "nothing left prepared";
    TerminationReport again;
    ASSERT_TRUE(Terminate(p.Both(gid, id), &again).ok());
    EXPECT_EQ(again.decision, c.expected) << "idempotent";
    ++id;
  }
}

// The partition: PreCommit reached Postgres only (the coordinator died, or
// was cut off, after the first acknowledgement), and each side terminates
// with the members it can reach. The Postgres side sees "precommitted" and
// commits; the broker side sees only "uncertain" and aborts. Both follow
// Skeen's rule; atomicity is lost: the order row exists, its message never
// will. This is 3PC's documented failure, reproduced deterministically.
// The same split healed: the broker side terminated alone (abort), then a
// termination reaches both and finds {precommitted, aborted}. The abort
// stands, and the precommitted Postgres branch follows it: nothing is left
// prepared, and the two agree (neither row nor message).
TEST_F(ThreePc, APrecommittedMemberFollowsAnAbortTakenWithoutIt) {
  const std::string gid = UniqueGid("follow-abort");
  const int id = 410;
  ASSERT_EQ(RunToCrash(dsn_, gid, id, Step::kAfterPrecommitSome), 3);
  Parties p(dsn_);
  TerminationReport broker_side, both;
  ASSERT_TRUE(Terminate({p.BrokerMember(gid)}, &broker_side).ok());
  EXPECT_EQ(broker_side.decision, Decision::kAbort);
  Status s = Terminate(p.Both(gid, id), &both);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(both.states.size(), 2u);
  EXPECT_EQ(both.states[0], State::kPrecommitted);
  EXPECT_EQ(both.states[1], State::kAborted);
  EXPECT_EQ(both.decision, Decision::kAbort);
  EXPECT_EQ(Rows(id), 0);
  EXPECT_FALSE(p.Published(gid));
  EXPECT_FALSE(p.PreparedAnywhere(gid)) << "the precommitted branch was rolled back";
}

TEST_F(ThreePc, APartitionAfterAPartialPrecommitSplitsTheDecision) {
  const std::string gid = UniqueGid("partition");
  const int id = 400;
  ASSERT_EQ(RunToCrash(dsn_, gid, id, Step::kAfterPrecommitSome), 3);
  Parties p(dsn_);
  TerminationReport pg_side, broker_side;
  ASSERT_TRUE(Terminate({p.PgMember(gid, id)}, &pg_side).ok());
  ASSERT_TRUE(Terminate({p.BrokerMember(gid)}, &broker_side).ok());
  EXPECT_EQ(pg_side.decision, Decision::kCommit);
  EXPECT_EQ(broker_side.decision, Decision::kAbort);
  EXPECT_EQ(Rows(id), 1) << "the Postgres side committed";
  EXPECT_FALSE(p.Published(gid)) << "the broker side aborted: a row without its message";
  EXPECT_FALSE(p.PreparedAnywhere(gid)) << "and nothing blocks: both sides finished";
}

}  // namespace
}  // namespace dw::threepc
