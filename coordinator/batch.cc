// ExecuteBatch: several transactions driven by one thread, in lockstep.
//
// Why: with one thread per transaction, each order blocks about four times
// (its prepare, the decision, its commit, a broker answer not yet there),
// and every block is two context switches and a wake-up of its own. On two
// shared cores those switches were most of the coordinator's CPU per order.
// Driven together, k transactions send all their prepares (every member's,
// every transaction's) before the thread reads the first answer; while it
// waits for that one the others are executed, so most answers are there when
// it gets to them, and the thread blocks about once per step for all k. A
// member that takes several branches in one request (the broker's
// POST /transactions/prepare and /commit) gets the k in one: one request,
// one answer and one durable write there instead of k (PhaseMany, phase.cc).
// The decisions of the k share one forced write (DecisionLog::LogCommits),
// and phase 2 goes the same way as phase 1. With --lrco the decisions are the
// last resource's one-phase commits (each with its decision row), started
// together the same way.
//
// The protocol per transaction is Execute's (coordinator.cc), step for step:
// the same votes, the same presumed abort, the same decision and phase-2
// budget, the same hand-off to the background. What lockstep changes is
// latency: a transaction's step ends when the batch's slowest call of that
// step has answered.
//
// Lockstep needs every member to start its calls (Participant::
// CallsStartable); with a step hook (crash points must fire at the exact
// call) or with a member that cannot start its calls, the batch runs as
// Execute one transaction after the other. A single call that cannot be
// started (a work its participant's started form cannot carry) is made
// blocking in its turn.
#include <algorithm>

#include "common/backoff.h"
#include "coordinator/coordinator.h"
#include "coordinator/gid.h"
#include "coordinator/pg_decision_log.h"

namespace dw::coord {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

// One transaction of a batch, between the steps.
struct Coordinator::BatchTxn {
  const std::vector<Work>* works = nullptr;
  TxnResult* result = nullptr;
  uint64_t seq = 0;
  std::vector<size_t> prep;  // members that prepare
  bool open = false;         // still going: not answered yet
  bool expecting = false;    // counted in the log's expected commits
};

bool Coordinator::Lockstep() const {
  if (opts_.on_step) return false;
  return std::all_of(members_.begin(), members_.end(),
                     [](const Member& m) { return m.participant->CallsStartable(); });
}

std::vector<Status> Coordinator::LogDecisions(const std::vector<BatchTxn*>& deciding) {
  // The decisions, in one forced write.
  Trace* tr = opts_.trace;
  std::vector<std::string> gids;
  for (BatchTxn* t : deciding) {
    gids.push_back(t->result->gid);
    if (tr) tr->Send(t->result->gid, "log", "COMMIT record");
    t->expecting = false;  // LogCommits counts as the arrival (decision_log.h)
  }
  std::vector<Status> decided = gids.empty() ? std::vector<Status>{} : log_->LogCommits(gids);
  for (size_t k = 0; tr && k < deciding.size(); ++k) {
    tr->Reply(gids[k], "log", decided[k].ok() ? "durable" : decided[k].ToString());
  }
  return decided;
}

std::vector<Status> Coordinator::DecideOnePhase(const std::vector<BatchTxn*>& deciding) {
  // Each last resource's work plus its decision row, committed in one phase:
  // all started, then the answers read (a work the started form cannot
  // carry is committed blocking in its turn).
  Trace* tr = opts_.trace;
  const Member& lr = members_[opts_.lrco_member];
  std::vector<Work> works(deciding.size());
  std::vector<std::unique_ptr<StartedCall>> calls(deciding.size());
  for (size_t k = 0; k < deciding.size(); ++k) {
    const std::string& gid = deciding[k]->result->gid;
    works[k] = (*deciding[k]->works)[opts_.lrco_member];
    works[k].statements.push_back(PgDecisionLog::DecisionRowStatement(gid, opts_.id));
    if (tr) tr->Send(gid, lr.participant->name(), "commit one phase + decision row");
    calls[k] = lr.one_phase->StartCommitOnePhase(works[k]);
  }
  std::vector<Status> decided(deciding.size());
  for (size_t k = 0; k < deciding.size(); ++k) {
    decided[k] = calls[k] ? calls[k]->Finish() : lr.one_phase->CommitOnePhase(works[k]);
    if (tr) {
      tr->Reply(deciding[k]->result->gid, lr.participant->name(),
                decided[k].ok() ? "committed (decision)" : decided[k].ToString());
    }
  }
  return decided;
}

std::vector<TxnResult> Coordinator::ExecuteBatch(const std::vector<std::vector<Work>>& batch) {
  std::vector<TxnResult> results(batch.size());
  if (batch.size() == 1 || !Lockstep()) {
    for (size_t i = 0; i < batch.size(); ++i) results[i] = Execute(batch[i]);
    return results;
  }
  Trace* tr = opts_.trace;
  std::vector<BatchTxn> txns(batch.size());
  auto done = [&](BatchTxn& t, TxnOutcome o, Status why) {
    if (t.expecting) log_->ExpectCommits(-1);
    t.expecting = false;
    t.open = false;
    t.result->outcome = o;
    t.result->status = std::move(why);
    ++completed_;
  };

  // Begin.
  for (size_t i = 0; i < batch.size(); ++i) {
    BatchTxn& t = txns[i];
    t.works = &batch[i];
    t.result = &results[i];
    if (batch[i].size() != members_.size()) {
      t.result->status = Status::InvalidArgument("one Work per participant expected");
      continue;
    }
    Status s = Begin(&t.seq);
    if (!s.ok()) {
      t.result->status = s;
      ++completed_;
      continue;
    }
    t.result->gid = FormatGid(opts_.id, t.seq);
    if (tr) tr->Begin(t.result->gid);
    for (size_t m = 0; m < members_.size(); ++m) {
      if (opts_.lrco && m == opts_.lrco_member) continue;  // it commits in one phase
      if (Involved(batch[i][m])) t.prep.push_back(m);
    }
    t.open = true;
    if (t.prep.empty() && !opts_.lrco) {
      Finish(t.seq);
      done(t, TxnOutcome::kFailed, Status::InvalidArgument("no participant has work"));
      continue;
    }
    if (opts_.lrco) continue;  // no log write to wait for
    t.expecting = true;
    log_->ExpectCommits(1);
  }

  // Phase 1, every transaction's prepares on their way before any answer is read.
  std::vector<BranchRef> calls;
  for (BatchTxn& t : txns) {
    if (!t.open) continue;
    for (size_t m : t.prep) calls.push_back(BranchRef{&t.result->gid, m, t.works});
  }
  std::vector<Status> votes = PhaseMany(BranchOp::kPrepare, calls);
  size_t at = 0;
  std::vector<BatchTxn*> deciding;
  for (BatchTxn& t : txns) {
    if (!t.open) continue;
    Status why;
    std::vector<size_t> maybe_prepared;  // everyone but explicit abort votes
    for (size_t m : t.prep) {
      const Status& v = votes[at++];
      if (!v.ok() && why.ok()) why = v;
      if (!v.IsAborted()) maybe_prepared.push_back(m);
    }
    if (why.ok()) {
      deciding.push_back(&t);
      continue;
    }
    // Rare, and each abort may retry within the phase-2 budget: one after
    // the other, as Execute does.
    AbortDecided(t.result->gid, t.seq, why, maybe_prepared);
    done(t, TxnOutcome::kAborted, why);
  }

  std::vector<Status> decided = opts_.lrco ? DecideOnePhase(deciding) : LogDecisions(deciding);
  std::vector<std::unique_ptr<Job>> jobs;
  for (size_t k = 0; k < deciding.size(); ++k) {
    BatchTxn& t = *deciding[k];
    const std::string& gid = t.result->gid;
    const Status& d = decided[k];
    if (!d.ok()) {
      done(t, DecisionFailed(gid, t.seq, d, t.prep), d);
      continue;
    }
    if (tr) tr->Note(gid, "decision: commit");
    std::unique_ptr<Job> job = NewJob(t.seq, gid, t.prep);
    if (opts_.ack_after == AckAfter::kDecision) {
      if (tr) tr->Note(gid, "acknowledged after the decision; phase 2 in the background");
      Enqueue(std::move(job));
      done(t, TxnOutcome::kCommitted, Status::OK());
      continue;
    }
    jobs.push_back(std::move(job));
  }
  if (jobs.empty()) return results;

  // Phase 2 in lockstep rounds, with Execute's budget and backoff; what is
  // not acknowledged within the budget goes to the background.
  std::vector<TxnResult*> job_result;
  for (BatchTxn* t : deciding) {
    if (t->open) job_result.push_back(t->result);
  }
  Backoff backoff = RetryBackoff(opts_);
  const auto deadline = Clock::now() + opts_.phase2_budget;
  for (int round = 0;; ++round) {
    calls.clear();
    for (auto& job : jobs) {
      if (!job) continue;
      if (round > 0) phase2_retries_ += job->remaining.size();
      ++job->rounds;
      for (size_t m : job->remaining) calls.push_back(BranchRef{&job->gid, m, nullptr});
    }
    std::vector<Status> acks = PhaseMany(BranchOp::kCommit, calls);
    at = 0;
    bool left = false;
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (!jobs[j]) continue;
      std::vector<size_t> next;
      for (size_t m : jobs[j]->remaining) {
        if (!acks[at++].ok()) next.push_back(m);
      }
      jobs[j]->remaining.swap(next);
      if (jobs[j]->remaining.empty()) {
        Complete(jobs[j].get());
        job_result[j]->outcome = TxnOutcome::kCommitted;
        ++completed_;
        jobs[j].reset();
      } else {
        left = true;
      }
    }
    if (!left || Clock::now() + backoff.bound() >= deadline) break;
    std::this_thread::sleep_for(backoff.Next());
  }
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!jobs[j]) continue;
    if (tr) tr->Note(jobs[j]->gid, "phase 2 not acknowledged yet: handed to the background");
    ++handed_off_;
    job_result[j]->outcome = TxnOutcome::kCommitted;
    job_result[j]->phase2_pending = true;
    ++completed_;
    Enqueue(std::move(jobs[j]));
  }
  return results;
}

}  // namespace dw::coord
