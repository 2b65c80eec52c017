// Coordinator: two-phase commit across N participants (Postgres databases
// and the broker), presumed abort, with a durable decision log.
//
// One transaction (Execute):
//   begin     a gid "dw:<id>:<seq>" from a durably reserved block of
//             sequence numbers (so gids never repeat across restarts, and
//             recovery can tell transactions started after its snapshot);
//   phase 1   Prepare on every involved member IN PARALLEL, each call with a
//             deadline (CallPool). Any abort vote, error or missing answer ->
//             abort everywhere (Abort is sent also to members that did not
//             answer: their prepare may still land; a prepare that lands even
//             later is aborted by recovery). Nothing is logged (presumed abort).
//   decision  LogCommit: durable before any phase-2 message (group commit
//             across concurrent transactions). With --lrco the last
//             resource (a Postgres member) is not prepared: it commits its
//             work plus the decision row in ONE local transaction, and that
//             commit is the decision.
//   phase 2   Commit on every prepared member in parallel, retried with
//             capped exponential backoff. If it is not all acknowledged
//             within `phase2_budget` the rest goes to the background queue,
//             which retries until acknowledged. With AckAfter::kDecision the
//             caller gets its answer right after the decision and phase 2
//             runs in the background from the start. Then END (not forced).
// Why reserved blocks for the sequence (and not a time-based epoch): a gid
// must never repeat for a coordinator id, or recovery could apply an old
// COMMIT record to a new transaction, and the broker, which remembers
// aborted gids, would refuse a reused one. A block of `sequence_block`
// numbers costs one forced write per block (not per transaction), does not
// depend on the clock never going back, and keeps gids short. A crash
// wastes the rest of its block, which is harmless in 64 bits.
//
// Recovery (recovery.h) runs at Create, then every `recovery_interval` in
// the background, and on demand (Recover); it leaves the transactions in
// flight here alone.
//
// Thread-safe: Execute may be called from many workers at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/backoff.h"
#include "common/status.h"
#include "common/trace.h"
#include "coordinator/call_pool.h"
#include "coordinator/crash_points.h"
#include "coordinator/decision_log.h"
#include "coordinator/member.h"
#include "coordinator/recovery.h"
#include "participants/participant.h"

namespace dw::coord {

enum class AckAfter { kPhase2, kDecision };

struct CoordinatorOptions {
  std::string id = "c1";
  std::chrono::milliseconds call_timeout{5000};  // every participant call
  AckAfter ack_after = AckAfter::kPhase2;
  // Last-resource commit: members[lrco_member] must have one_phase set, and
  // the decision log must be a PgDecisionLog on that member's database.
  bool lrco = false;
  size_t lrco_member = 0;
  std::chrono::milliseconds phase2_budget{2000};  // foreground retries before the hand-off
  std::chrono::milliseconds backoff_initial{10};
  std::chrono::milliseconds backoff_max{1000};
  std::chrono::milliseconds recovery_interval{1000};  // 0: no background loop
  bool recover_at_start = true;
  uint64_t sequence_block = 10000;  // sequence numbers reserved per forced write
  int max_call_threads = 256;
  int background_workers = 4;  // phase-2 retry / ack-after-decision workers
  // Queued phase-2 jobs before Execute waits. Each holds prepared
  // transactions at the participants, so this plus the concurrency must stay
  // below Postgres' max_prepared_transactions (256 in the embedded cluster),
  // or new PREPAREs fail (53200) and abort.
  size_t background_capacity = 128;
  Trace* trace = nullptr;
  // Called at every protocol step (crash points; tests that stop a server
  // between two steps). `completed` = transactions finished so far.
  std::function<void(Step, const std::string& gid, int64_t completed)> on_step;
};

// kCommitted  the COMMIT decision is durable (phase 2 may still be pending).
// kAborted    the decision is abort: nothing of it is or will become visible
//             (participants that did not answer are rolled back by recovery).
// kFailed     the outcome is unknown to the caller (the decision write's result
//             was lost); recovery settles it, either way, atomically.
enum class TxnOutcome { kCommitted, kAborted, kFailed };

struct TxnResult {
  std::string gid;
  TxnOutcome outcome = TxnOutcome::kFailed;
  Status status;                // why, when not committed
  bool phase2_pending = false;  // committed; some participant not acknowledged yet
};

class Coordinator {
 public:
  struct Stats {
    uint64_t log_forced_writes = 0;
    uint64_t phase2_retries = 0;        // commit calls repeated after a failure
    uint64_t handed_to_background = 0;  // transactions whose phase 2 finished in the background
    uint64_t left_to_recovery = 0;      // transactions whose fate recovery had to settle
    // Threads the participant-call pool started: 0 when every phase ran on
    // the callers' own threads (phase.cc).
    int call_threads = 0;
    RecoveryReport recovery;  // all passes of this coordinator
  };

  // Runs the start-up recovery pass (its report is in stats().recovery; a
  // pass that could not finish is not an error: the loop retries) and starts
  // the background threads.
  static Status Create(const CoordinatorOptions& opts, std::vector<Member> members,
                       std::unique_ptr<DecisionLog> log, std::unique_ptr<Coordinator>* out);
  ~Coordinator();  // stops the background threads; call Drain first to finish phase 2

  // One distributed transaction; works[i] is members[i]'s part (an empty
  // Work: the member is not involved).
  TxnResult Execute(const std::vector<Work>& works);

  // Several transactions driven by this thread in lockstep (batch.cc): each
  // step's calls of all of them are sent before any answer is read, and their
  // decisions share one forced write. Each transaction is Execute's, and its
  // result is what Execute would have returned; a transaction's steps end
  // with the batch's slowest. Without lockstep (a step hook, a member that
  // cannot start its calls) they run one after the other.
  // The transactions of one batch must not take the same row locks: the
  // second would wait for the first's prepared lock, which is held until
  // the batch's decision, so until the second's call deadline.
  std::vector<TxnResult> ExecuteBatch(const std::vector<std::vector<Work>>& batch);

  // A recovery pass now (safe while transactions run).
  Status Recover(RecoveryReport* report);

  // Waits until background phase 2 is done or `timeout` passed; returns the
  // number of transactions still pending (recovery will finish them).
  size_t Drain(std::chrono::milliseconds timeout);

  Stats stats() const;
  DecisionLog& log() { return *log_; }
  const std::vector<Member>& members() const { return members_; }

 private:
  struct Job;
  Coordinator(const CoordinatorOptions& opts, std::vector<Member> members,
              std::unique_ptr<DecisionLog> log);
  Status Begin(uint64_t* seq);
  void Finish(uint64_t seq);
  void StepReached(Step s, const std::string& gid);
  // Index in `which` (member indexes) of the call Fanout may run on the
  // calling thread: a member whose calls bound themselves, if any.
  std::optional<size_t> RunHere(const std::vector<size_t>& which) const;
  enum class BranchOp { kPrepare, kCommit, kAbort };
  struct BatchTxn;
  // One member's branch of one transaction, for PhaseMany.
  struct BranchRef {
    const std::string* gid;
    size_t member;
    const std::vector<Work>* works;  // indexed like members_; kPrepare only
  };
  static bool Involved(const Work& w);
  static Backoff RetryBackoff(const CoordinatorOptions& o);
  bool Lockstep() const;  // ExecuteBatch can drive its batch in lockstep
  // ExecuteBatch's decision step for `deciding`, the answers in its order:
  // the log's COMMIT records in one forced write, or with --lrco the last
  // resource's one-phase commits.
  std::vector<Status> LogDecisions(const std::vector<BatchTxn*>& deciding);
  std::vector<Status> DecideOnePhase(const std::vector<BatchTxn*>& deciding);
  // Every call of `calls` started, then every answer read, in order.
  std::vector<Status> PhaseMany(BranchOp op, const std::vector<BranchRef>& calls);
  // One call per member of `which` (member indexes) doing `op` on its branch
  // of `gid`, traced; `works` (indexed like members_) only for kPrepare.
  // Commit's NotFound counts as committed.
  std::vector<std::function<Status()>> BranchCalls(BranchOp op, const std::string& gid,
                                                   const std::vector<size_t>& which,
                                                   const std::vector<Work>& works = {}) const;
  // `op` on every member of `which` in parallel, the results by index in
  // `which`; `on_result` as CallPool::Fanout's (phase.cc says how).
  std::vector<Status> Phase(BranchOp op, const std::string& gid, const std::vector<size_t>& which,
                            const std::vector<Work>& works = {},
                            const std::function<void(size_t, const Status&)>& on_result = {});
  // Sends Abort to `which` members; false if some did not acknowledge.
  bool AbortAll(const std::string& gid, const std::vector<size_t>& which);
  // The decision is abort (`why`: a vote, or a decision that could not be
  // written): abort `which`, count what recovery must finish, leave the
  // active set. Presumed abort: no COMMIT record exists.
  void AbortDecided(const std::string& gid, uint64_t seq, const Status& why,
                    const std::vector<size_t>& which);
  // A decision that failed with `d`: aborted like AbortDecided, or, if its
  // outcome is unknown (the record may be durable), left to recovery, which
  // resolves it from the log. Returns the transaction's outcome.
  TxnOutcome DecisionFailed(const std::string& gid, uint64_t seq, const Status& d,
                            const std::vector<size_t>& prep);
  // Phase 2 of a decided transaction: its members `prep` to commit.
  std::unique_ptr<Job> NewJob(uint64_t seq, const std::string& gid,
                              const std::vector<size_t>& prep) const;
  // One round of Commit on job->remaining; removes the acknowledged ones.
  void CommitRound(Job* job);
  void Complete(Job* job);  // END + leave the active set
  void Enqueue(std::unique_ptr<Job> job);
  void BackgroundLoop();
  void RecoveryLoop();

  const CoordinatorOptions opts_;
  const std::vector<Member> members_;
  const std::unique_ptr<DecisionLog> log_;
  CallPool pool_;

  mutable std::mutex mu_;
  std::set<uint64_t> active_;  // guarded by mu_
  uint64_t next_seq_ = 0;      // guarded by mu_
  uint64_t seq_end_ = 0;       // guarded by mu_ (exclusive)
  bool reserved_ = false;      // guarded by mu_
  std::atomic<int64_t> completed_{0};
  std::atomic<uint64_t> phase2_retries_{0};
  std::atomic<uint64_t> handed_off_{0};
  std::atomic<uint64_t> left_to_recovery_{0};

  std::mutex recover_mu_;  // one pass at a time
  mutable std::mutex report_mu_;
  RecoveryReport recovery_total_;  // guarded by report_mu_

  // Background phase 2.
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  std::deque<std::unique_ptr<Job>> bg_queue_;  // guarded by bg_mu_
  size_t bg_busy_ = 0;                         // guarded by bg_mu_
  bool stop_ = false;                          // guarded by bg_mu_
  std::vector<std::thread> bg_threads_;
  std::thread recovery_thread_;
};

}  // namespace dw::coord
