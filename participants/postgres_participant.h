// PostgresParticipant: a Postgres database as a two-phase-commit participant,
// using the server's own PREPARE TRANSACTION / COMMIT PREPARED.
//
//   Prepare(gid, work)  runs work.statements in one transaction, then
//                       PREPARE TRANSACTION 'gid'. From then on the changes
//                       (and their row locks) belong to no session: they
//                       survive a crash of this process and of the server,
//                       until COMMIT PREPARED / ROLLBACK PREPARED, which any
//                       connection of the same user may issue.
//     OK           voted commit (the prepare is durable).
//     Aborted      a statement or the PREPARE failed (constraint violation,
//                  deadlock, duplicate gid...): the server rolled it all back.
//     Timeout      statement_timeout fired (e.g. waiting on a lock held by
//                  another prepared transaction): nothing prepared.
//     Unavailable  no connection, or it broke: the coordinator must Abort
//                  the gid later in case the PREPARE landed.
//   Commit(gid)         COMMIT PREPARED. NotFound for an unknown gid.
//   Abort(gid)          ROLLBACK PREPARED. An unknown gid is OK (presumed abort).
//     A connection that breaks during either leaves the outcome unknown; the
//     participant then looks the gid up in pg_prepared_xacts on a fresh
//     connection: still listed -> it retries; gone -> it is done (OK).
//     After `finish_attempts` such rounds it returns InDoubt.
//   ListInDoubt(prefix) the gids of pg_prepared_xacts in this database that
//                       start with prefix, with their prepare times.
//
// Requires max_prepared_transactions > 0 on the server (Create checks).
// Thread-safe: every call leases its own connection from the pool.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "participants/call_deadline.h"
#include "participants/participant.h"
#include "participants/pg_pool.h"

namespace dw {

class PostgresParticipant : public Participant {
 public:
  struct Options {
    std::string name = "postgres";  // for logs: "postgres", "postgres:shard1"
    // Rounds of COMMIT/ROLLBACK PREPARED + pg_prepared_xacts lookup when
    // connections keep breaking, before giving up with InDoubt.
    int finish_attempts = 5;
    std::chrono::milliseconds retry_backoff{50};  // grows linearly per round
    // > 0: Prepare, Commit, Abort and CommitOnePhase each end within this
    // (plus the pool's acquire and connect bounds, and the watcher's tick):
    // past it, the connection is shut down (call_deadline.h), the call
    // reports Timeout (prepare: nothing voted) or InDoubt (commit, abort,
    // one-phase commit: the outcome is unknown), and CallsBounded() is
    // true, so the coordinator runs these calls on its own thread.
    // 0: no deadline beyond statement_timeout.
    std::chrono::milliseconds call_deadline{0};
  };

  // Checks that Postgres is reachable (Unavailable otherwise, with the DSN
  // minus its password) and that 2PC is enabled (FailedPrecondition naming
  // the fix when max_prepared_transactions is 0).
  static Status Create(std::shared_ptr<PgPool> pool, const Options& opts,
                       std::unique_ptr<PostgresParticipant>* out);
  // Convenience: a participant with a pool of its own.
  static Status Create(const PgPool::Options& pool_opts, const Options& opts,
                       std::unique_ptr<PostgresParticipant>* out);

  std::string name() const override { return opts_.name; }
  bool CallsBounded() const override { return opts_.call_deadline.count() > 0; }
  Status Prepare(const std::string& gid, const Work& work) override;
  Status Commit(const std::string& gid) override;
  Status Abort(const std::string& gid) override;

  // The calls in two halves (postgres_started.cc): the one-message prepare,
  // or the COMMIT/ROLLBACK PREPARED, is sent on a leased connection when
  // these return, and Finish reads its result. Only with a call deadline,
  // which also bounds Finish. StartPrepare returns nullptr for a work the
  // one-message form cannot carry (a full statement cache): the caller
  // makes the blocking call.
  bool CallsStartable() const override { return Bounded(); }
  std::unique_ptr<StartedCall> StartPrepare(const std::string& gid, const Work& work) override;
  std::unique_ptr<StartedCall> StartCommit(const std::string& gid) override;
  std::unique_ptr<StartedCall> StartAbort(const std::string& gid) override;
  Status ListInDoubt(const std::string& gid_prefix, std::vector<InDoubtTxn>* out) override;

  // The same statements in one local transaction, committed directly, for
  // the coordinator's last-resource-commit optimisation (the last
  // participant skips the prepare: its local commit is the decision).
  //   OK / Aborted / Timeout / Unavailable as for Prepare (nothing committed);
  //   InDoubt: the connection broke during COMMIT: it may have committed.
  Status CommitOnePhase(const Work& work);
  // The same in two halves (postgres_started.cc): the statements and the
  // COMMIT are sent when it returns, Finish answers what CommitOnePhase
  // would. nullptr without a call deadline, or for a work the one-message
  // form cannot carry (expect_rows: the COMMIT would travel with the
  // statements, so a wrong row count could not be taken back).
  std::unique_ptr<StartedCall> StartCommitOnePhase(const Work& work);

  const std::shared_ptr<PgPool>& pool() const { return pool_; }

 private:
  class Started;  // postgres_started.cc
  PostgresParticipant(std::shared_ptr<PgPool> pool, const Options& opts);
  // COMMIT (or ROLLBACK) PREPARED in rounds until it is known to be done or
  // `deadline` passed; `maybe_sent`: an earlier attempt may have reached the
  // server, so the first round looks the gid up before sending it again.
  Status Finish(const std::string& gid, bool commit, bool maybe_sent,
                std::chrono::steady_clock::time_point deadline);
  std::unique_ptr<StartedCall> StartFinish(const std::string& gid, bool commit);
  // The one-message work sent as a started prepare (of `gid`) or one-phase
  // commit; the argument checks are the caller's.
  std::unique_ptr<StartedCall> StartWork(const std::string& gid, const Work& work, bool prepare);

  // The call deadline (call_deadline.h), when Options::call_deadline is set.
  bool Bounded() const { return opts_.call_deadline.count() > 0; }
  std::chrono::steady_clock::time_point Deadline() const {
    return std::chrono::steady_clock::now() + opts_.call_deadline;
  }
  CallDeadlines::Guard Watch(PgPool::Lease& lease, std::chrono::steady_clock::time_point d) const;
  Status Missed(const std::string& what) const;  // Timeout, naming the deadline

  const std::shared_ptr<PgPool> pool_;
  const Options opts_;
};

}  // namespace dw
