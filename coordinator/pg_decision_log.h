// PgDecisionLog: the decision log as a table in Postgres, written by the
// coordinator's own local transactions (as Citus does with
// pg_dist_transaction):
//
//   dw_decisions    (gid PK, coordinator, outcome 'commit'|'abort', decided_at)
//   dw_coordinators (id PK, next_seq, decision_log)  the sequence high-water
//                   mark, and which log the id uses (log_identity.h)
//
// LogCommit: group commit again: the batch leader inserts every queued gid
// with one INSERT ... SELECT unnest($1) and one COMMIT (one WAL flush for
// the batch). Pending END rows are deleted in that same transaction.
//
// Last-resource commit (--lrco): the decision row is NOT written by this
// class but inserted INSIDE the business transaction of the Postgres
// participant that commits in one phase (DecisionRowStatement), so the row
// and the order commit or vanish together.
//
// Resolve, the reason an outcome is never guessed: a decision transaction
// (a batch, or an LRCO business transaction) may still be running on another
// connection when recovery looks, e.g. after this process lost the
// connection during its COMMIT. Recovery therefore INSERTs an 'abort' row
// with ON CONFLICT DO NOTHING: a concurrent insert of the same gid makes it
// wait for that transaction; if it committed, the existing row wins and says
// 'commit'; otherwise the abort row is fixed and no later commit of that gid
// can succeed (its INSERT conflicts). LogCommit's INSERT uses ON CONFLICT DO
// NOTHING too and answers Aborted for a gid that recovery already fixed.
//
// END deletes the row (batched, synchronous_commit off when on its own).
// One process per coordinator id: a session-level advisory lock, held on a
// connection of its own for the lifetime of the object.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "coordinator/decision_log.h"
#include "coordinator/group_commit.h"
#include "participants/participant.h"
#include "participants/pg_pool.h"

namespace dw::coord {

class PgDecisionLog : public DecisionLog {
 public:
  struct Options {
    std::string dsn;
    std::string coordinator_id;
    std::chrono::milliseconds statement_timeout{30000};
    std::chrono::milliseconds lock_wait{3000};
    GroupCommit::Options group;
    size_t end_batch = 1000;  // pending ENDs that trigger a delete on their own
  };

  // Creates the tables if absent (idempotent) and takes the coordinator's lock.
  static Status Open(const Options& opts, std::unique_ptr<PgDecisionLog>* out);
  ~PgDecisionLog() override;

  // Creates dw_decisions and dw_coordinators if absent.
  static Status EnsureSchema(const std::string& dsn);
  // The INSERT of the COMMIT row, for an LRCO business transaction.
  static SqlStatement DecisionRowStatement(const std::string& gid,
                                           const std::string& coordinator_id);

  std::string Describe() const override;
  Status LogCommit(const std::string& gid) override;
  std::vector<Status> LogCommits(const std::vector<std::string>& gids) override;
  void LogEnd(const std::string& gid) override;
  Status Flush() override;
  Status Resolve(const std::string& gid, bool* committed) override;
  Status ListOpen(std::vector<std::string>* gids) override;
  Status ReserveSequence(uint64_t n, uint64_t* first) override;
  uint64_t forced_writes() const override;
  void ExpectCommits(int delta) override { group_->AddExpected(delta); }

  GroupCommit& group() { return *group_; }

 private:
  struct LockConn;
  explicit PgDecisionLog(const Options& opts);
  void FlushBatch(const std::vector<LogEntry>& batch, std::vector<Status>* results);
  std::vector<std::string> TakeEnds();
  // After the flush that took `ends`: put them back (failed) or forget them.
  void EndsDone(const std::vector<std::string>& ends, bool failed);

  const Options opts_;
  std::shared_ptr<PgPool> pool_;
  std::unique_ptr<LockConn> lock_;
  std::unique_ptr<GroupCommit> group_;

  mutable std::mutex mu_;
  std::vector<std::string> pending_ends_;  // guarded by mu_
  // Taken by a flush whose DELETE has not committed yet; still "ended" for ListOpen.
  std::vector<std::string> ending_;  // guarded by mu_
  uint64_t forced_ = 0;              // guarded by mu_
};

}  // namespace dw::coord
