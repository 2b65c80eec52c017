// DecisionLog: where the coordinator makes "commit" durable.
//
// Presumed abort: nothing is logged before the decision, and a gid the log
// has no COMMIT for is aborted by recovery. So the log holds only:
//   COMMIT gid   forced (durable before LogCommit returns, before any
//                phase-2 message): the point of no return;
//   END gid      not forced: every participant acknowledged, the COMMIT may
//                be forgotten (compaction). Losing an END in a crash only
//                makes recovery look at that gid once more;
//   a sequence high-water mark, so gids never repeat across restarts.
//
// Two implementations: FileDecisionLog (a CRC'd record file with group
// commit) and PgDecisionLog (a `dw_decisions` table, Citus-style). Both
// batch concurrent LogCommit calls into one forced write; forced_writes()
// counts them (the `log_fsyncs` of a run's summary).
//
// One process at a time owns a coordinator id's log: Open takes an exclusive
// lock (flock / advisory lock) and fails with FailedPrecondition while
// another process holds it, because recovery in a second process could not
// see the first one's transactions in flight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace dw::coord {

class DecisionLog {
 public:
  virtual ~DecisionLog() = default;

  // "file:/path" or "postgres:<dsn without password>".
  virtual std::string Describe() const = 0;

  // Makes COMMIT for gid durable. Thread-safe; concurrent callers share one
  // forced write.
  //   OK                 durable: the transaction is committed.
  //   Aborted            refused for good (recovery fixed the gid as aborted
  //                      first): the caller must abort.
  //   Timeout / InDoubt  the record may or may not be durable: the caller
  //                      must neither commit nor abort; recovery decides.
  //   other errors       not recorded: the caller aborts.
  virtual Status LogCommit(const std::string& gid) = 0;

  // LogCommit for several gids of one caller (a thread driving a batch of
  // transactions), results in the gids' order. The logs here put them in
  // one forced write; this default, one after the other, is for logs that
  // cannot.
  virtual std::vector<Status> LogCommits(const std::vector<std::string>& gids) {
    std::vector<Status> out;
    out.reserve(gids.size());
    for (const std::string& g : gids) out.push_back(LogCommit(g));
    return out;
  }

  // Records that every participant acknowledged gid's outcome (commit, or an
  // abort that recovery had fixed in the log). Not forced; never fails.
  virtual void LogEnd(const std::string& gid) = 0;

  // Writes pending END records (not forced). Called at shutdown and by the
  // periodic recovery loop.
  virtual Status Flush() = 0;

  // Recovery: the outcome of gid. When the log holds no decision, abort is
  // the answer (presumed abort) and, where a decision could still be in
  // flight on another connection (PgDecisionLog), the abort is fixed in the
  // log first so that decision can no longer commit.
  //   OK with *committed set; NotFound when the gid's record was already
  //   ended (fully resolved meanwhile); other errors: try again later.
  virtual Status Resolve(const std::string& gid, bool* committed) = 0;

  // Gids with a decision and no END yet (recovery ends the ones that no
  // participant holds prepared any more).
  virtual Status ListOpen(std::vector<std::string>* gids) = 0;

  // Reserves `n` sequence numbers durably: *first .. *first+n-1 are this
  // process's, never handed out again for this coordinator id.
  virtual Status ReserveSequence(uint64_t n, uint64_t* first) = 0;

  virtual uint64_t forced_writes() const = 0;

  // Transactions on their way to LogCommit (in phase 1): a group-commit
  // leader may wait for them (see group_commit.h). The coordinator adds 1 at
  // a transaction's start; LogCommit counts as that transaction's arrival,
  // and a transaction that aborts instead removes itself with -1.
  virtual void ExpectCommits(int delta) = 0;
};

}  // namespace dw::coord
