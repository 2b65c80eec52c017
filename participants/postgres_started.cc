// The Postgres participant's calls in two halves (Participant::StartPrepare
// and the like): the statements are sent as one simple-query message with
// libpq's PQsendQuery on the lease's raw connection (pg_connection.h), and
// their results are left on the connection until Finish reads them, one per
// statement, with PQgetResult. A thread can so have the calls of several
// transactions on their way at once and read the answers afterwards; while
// it reads the first, the others are being executed. (libpqxx's pipeline
// would do the same, but prefixes a batch of several queries with a SELECT
// of its own: a statement more for Postgres per prepare.)
//
// What each half does is what the blocking call does, split where the
// blocking call would wait:
//   prepare  the one-message form (pg_one_message.h). The server answers
//            each statement of the text on its own, so expect_rows is
//            checked too; as the PREPARE travelled with the statements, a
//            mismatch rolls the prepared branch back before voting abort. A
//            work the form cannot carry (a full statement cache) gets no
//            started call (nullptr).
//   commit / abort  COMMIT / ROLLBACK PREPARED. A first attempt that fails
//            for any reason but an unknown gid goes on as the blocking call's
//            later rounds do: look the gid up, send it again, within the same
//            deadline.
//   one-phase commit (--lrco)  the one-message form ending in COMMIT.
//            Statements with expect_rows get no started call (the COMMIT
//            cannot be taken back); a connection lost or shut down by the
//            deadline while it ran answers InDoubt, as CommitOnePhase does.
// The call deadline (call_deadline.h) is armed at the start and covers the
// wait in Finish, as it covers the blocking call.
#include <cstdlib>
#include <utility>

#include "participants/pg_one_message.h"
#include "participants/postgres_participant.h"

namespace dw {

class PostgresParticipant::Started : public StartedCall {
 public:
  enum class Op { kPrepare, kCommit, kAbort, kOnePhase };

  Started(PostgresParticipant* owner, Op op, std::string gid, PgPool::Lease lease,
          std::chrono::steady_clock::time_point deadline, const Work* work = nullptr)
      : owner_(owner),
        op_(op),
        gid_(std::move(gid)),
        deadline_(deadline),
        lease_(std::move(lease)),
        guard_(owner_->Watch(lease_, deadline_)),  // after the lease: see call_deadline.h
        checks_(Checks(work)) {}

  ~Started() override {
    if (finished_) return;
    // Never finished: the results are still on the connection.
    lease_.MarkBroken();
    Release();
  }

  // Sends `parts` as one message; an error when libpq could not (the call
  // is over then, its lease given up).
  Status Send(const std::vector<std::string>& parts) {
    PGconn* c = lease_.raw();
    if (c != nullptr && PQsendQuery(c, pg_work::Joined(parts).c_str()) == 1) return Status::OK();
    Status e = StatusFromPgConnection(&lease_, What());
    Release();
    finished_ = true;
    return e;
  }

  Status Finish() override {
    finished_ = true;
    PGconn* c = lease_.raw();
    std::string state;
    Status e;     // the first failure; the server runs nothing after it
    Status rows;  // a statement that changed other than its expect_rows rows
    size_t k = 0;
    // Every result is read, failed or not, so that nothing is left on the
    // connection; libpq answers nullptr once the server is ready again (or
    // the connection is gone).
    while (PGresult* r = PQgetResult(c)) {
      const ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        // libpq answers a COPY result until the copy is ended, which no
        // work does: stop reading, and the connection is not reused.
        PQclear(r);
        if (e.ok()) e = Status::InvalidArgument(What() + ": a statement started a COPY");
        break;
      }
      if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        for (const auto& [part, check] : checks_) {
          if (part != k || !rows.ok()) continue;
          const uint64_t n = std::strtoull(PQcmdTuples(r), nullptr, 10);
          if (n != *check.expect_rows) rows = pg_work::RowsMismatch(check, n);
        }
      } else if (e.ok()) {
        e = StatusFromPgResult(&lease_, What(), r, &state);
      }
      PQclear(r);
      ++k;
    }
    if (e.ok() && PQstatus(c) == CONNECTION_BAD) e = StatusFromPgConnection(&lease_, What());
    if (e.ok()) {
      Release();
      if (rows.ok()) return Status::OK();
      // Sent together, the PREPARE ran before the row counts could be read:
      // take the branch back, then vote abort. If that fails, no vote, so
      // that the coordinator sends its abort.
      Status back = owner_->Abort(gid_);
      if (back.ok()) return rows;
      return Status::Unavailable(rows.message() +
                                 "; rolling the prepared branch back failed: " + back.ToString());
    }
    const bool fired = guard_.fired();
    // After a failure the session may sit in an aborted transaction block
    // (the one-message prepare): never hand it to the next caller.
    lease_.MarkBroken();
    Release();
    if (op_ == Op::kPrepare) {
      if (fired) return owner_->Missed(What());  // no vote: the coordinator aborts
      return e;
    }
    if (op_ == Op::kOnePhase) {
      // As CommitOnePhase: shut down or lost while the COMMIT may have run,
      // the outcome is unknown.
      if (fired) return Status::InDoubt(owner_->Missed(What()).message());
      if (e.code() == Status::Code::kUnavailable) return Status::InDoubt(e.message());
      return e;
    }
    const bool commit = op_ == Op::kCommit;
    if (state == "42704") {
      // Unknown gid: never prepared, or resolved already (as Finish says).
      if (commit) return Status::NotFound(What() + ": no such prepared transaction");
      return Status::OK();
    }
    // The statement may have run: the blocking call's later rounds settle it.
    return owner_->Finish(gid_, commit, /*maybe_sent=*/true, deadline_);
  }

 private:
  std::string What() const {
    if (op_ == Op::kOnePhase) return owner_->name() + " one-phase commit";
    static const char* const kVerb[] = {" prepare ", " commit ", " abort "};
    return owner_->name() + kVerb[static_cast<int>(op_)] + gid_;
  }

  // The deadline's watch ends before the lease goes back.
  void Release() {
    guard_ = CallDeadlines::Guard();
    lease_ = PgPool::Lease();
  }

  PostgresParticipant* owner_;
  const Op op_;
  const std::string gid_;
  const std::chrono::steady_clock::time_point deadline_;
  PgPool::Lease lease_;
  CallDeadlines::Guard guard_;
  bool finished_ = false;
  // The prepare's statements with an expect_rows, each with its part's
  // index (part 0 is BEGIN, then the statements, then the PREPARE). Copied:
  // the caller's Work need not outlive the call.
  std::vector<std::pair<size_t, SqlStatement>> checks_;

  static std::vector<std::pair<size_t, SqlStatement>> Checks(const Work* work) {
    std::vector<std::pair<size_t, SqlStatement>> out;
    if (work == nullptr) return out;
    for (size_t i = 0; i < work->statements.size(); ++i) {
      if (work->statements[i].expect_rows) out.emplace_back(i + 1, work->statements[i]);
    }
    return out;
  }
};

namespace {

// A started call that already has its answer (a check failed before
// anything was sent).
class Answered : public StartedCall {
 public:
  explicit Answered(Status s) : s_(std::move(s)) {}
  Status Finish() override { return s_; }

 private:
  Status s_;
};

}  // namespace

std::unique_ptr<StartedCall> PostgresParticipant::StartWork(const std::string& gid,
                                                            const Work& work, bool prepare) {
  const auto deadline = Deadline();
  const std::string what = name() + (prepare ? " prepare " + gid : " one-phase commit");
  PgPool::Lease lease;
  Status s = pool_->Acquire(&lease);
  if (!s.ok()) return std::make_unique<Answered>(s);
  std::vector<std::string> parts;
  try {
    // A prepare reads each statement's row count before its vote; a
    // one-phase commit cannot (the COMMIT travels with the statements and
    // cannot be taken back), so OneMessage says no to expect_rows there.
    if (!pg_work::OneMessage(lease, work, &parts, /*rows_per_part=*/prepare)) return nullptr;
  } catch (...) {
    Status e = StatusFromPgException(&lease, what);
    lease.MarkBroken();
    return std::make_unique<Answered>(e);
  }
  parts.push_back(prepare ? "PREPARE TRANSACTION " + lease.conn().quote(gid) : "COMMIT");
  auto call =
      std::make_unique<Started>(this, prepare ? Started::Op::kPrepare : Started::Op::kOnePhase, gid,
                                std::move(lease), deadline, &work);
  s = call->Send(parts);
  if (!s.ok()) return std::make_unique<Answered>(s);
  return call;
}

std::unique_ptr<StartedCall> PostgresParticipant::StartPrepare(const std::string& gid,
                                                               const Work& work) {
  Status s = pg_work::CheckGid(gid);
  if (s.ok()) s = pg_work::CheckNoNul(work);
  if (!s.ok()) return std::make_unique<Answered>(s);
  return StartWork(gid, work, /*prepare=*/true);
}

std::unique_ptr<StartedCall> PostgresParticipant::StartCommitOnePhase(const Work& work) {
  Status s = pg_work::CheckNoNul(work);
  if (!s.ok()) return std::make_unique<Answered>(s);
  if (!Bounded()) return nullptr;
  return StartWork("", work, /*prepare=*/false);
}

std::unique_ptr<StartedCall> PostgresParticipant::StartFinish(const std::string& gid, bool commit) {
  Status s = pg_work::CheckGid(gid);
  if (!s.ok()) return std::make_unique<Answered>(s);
  const auto deadline = Deadline();
  PgPool::Lease lease;
  s = pool_->Acquire(&lease);
  if (!s.ok()) {
    // Nothing was sent: the blocking call's rounds (they acquire again).
    return std::make_unique<Answered>(Finish(gid, commit, false, deadline));
  }
  const std::string text =
      (commit ? "COMMIT PREPARED " : "ROLLBACK PREPARED ") + lease.conn().quote(gid);
  auto call = std::make_unique<Started>(this, commit ? Started::Op::kCommit : Started::Op::kAbort,
                                        gid, std::move(lease), deadline);
  s = call->Send({text});
  if (!s.ok()) return std::make_unique<Answered>(Finish(gid, commit, true, deadline));
  return call;
}

std::unique_ptr<StartedCall> PostgresParticipant::StartCommit(const std::string& gid) {
  return StartFinish(gid, true);
}

std::unique_ptr<StartedCall> PostgresParticipant::StartAbort(const std::string& gid) {
  return StartFinish(gid, false);
}

}  // namespace dw
