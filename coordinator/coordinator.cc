#include "coordinator/coordinator.h"

#include <algorithm>

#include "common/backoff.h"
#include "coordinator/gid.h"
#include "coordinator/pg_decision_log.h"

namespace dw::coord {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

bool Coordinator::Involved(const Work& w) { return !w.statements.empty() || !w.messages.empty(); }

// Phase 2 and aborts retry without jitter: the phase-2 budget compares the
// next wait with its deadline before sleeping (Backoff::bound).
Backoff Coordinator::RetryBackoff(const CoordinatorOptions& o) {
  return Backoff(Backoff::Options{o.backoff_initial, o.backoff_max, /*jitter=*/false});
}

struct Coordinator::Job {
  uint64_t seq = 0;
  std::string gid;
  std::vector<size_t> remaining;  // members still to acknowledge the commit
  bool committed_one = false;     // after-commit-one has fired
  int rounds = 0;
  Backoff backoff;  // RetryBackoff: the waits between commit rounds
  Clock::time_point next_try;
};

Coordinator::Coordinator(const CoordinatorOptions& opts, std::vector<Member> members,
                         std::unique_ptr<DecisionLog> log)
    : opts_(opts),
      members_(std::move(members)),
      log_(std::move(log)),
      pool_(opts.max_call_threads) {}

Status Coordinator::Create(const CoordinatorOptions& opts, std::vector<Member> members,
                           std::unique_ptr<DecisionLog> log, std::unique_ptr<Coordinator>* out) {
  if (!ValidCoordinatorId(opts.id)) {
    return Status::InvalidArgument("invalid coordinator id '" + opts.id +
                                   "': want [A-Za-z0-9_-]{1,64}");
  }
  if (members.empty()) return Status::InvalidArgument("no participants");
  if (!log) return Status::InvalidArgument("no decision log");
  if (opts.lrco) {
    if (opts.lrco_member >= members.size() || !members[opts.lrco_member].one_phase) {
      return Status::InvalidArgument("--lrco needs a Postgres participant as the last resource");
    }
    if (!dynamic_cast<PgDecisionLog*>(log.get())) {
      return Status::InvalidArgument(
          "--lrco keeps the decision inside the last resource's transaction (table "
          "dw_decisions): use the postgres decision log");
    }
  }
  if (opts.sequence_block < 1) return Status::InvalidArgument("sequence_block must be >= 1");
  std::unique_ptr<Coordinator> c(new Coordinator(opts, std::move(members), std::move(log)));
  if (opts.recover_at_start) {
    RecoveryReport r;
    (void)c->Recover(&r);  // an incomplete pass is retried by the loop
  }
  int workers = std::max(1, opts.background_workers);
  for (int i = 0; i < workers; ++i)
    c->bg_threads_.emplace_back([p = c.get()] { p->BackgroundLoop(); });
  if (opts.recovery_interval.count() > 0) {
    c->recovery_thread_ = std::thread([p = c.get()] { p->RecoveryLoop(); });
  }
  *out = std::move(c);
  return Status::OK();
}

Coordinator::~Coordinator() {
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    stop_ = true;
  }
  bg_cv_.notify_all();
  for (auto& t : bg_threads_) t.join();
  if (recovery_thread_.joinable()) recovery_thread_.join();
  (void)log_->Flush();  // pending ENDs only: see DecisionLog::Flush
}

Status Coordinator::Begin(uint64_t* seq) {
  std::lock_guard<std::mutex> l(mu_);
  if (next_seq_ >= seq_end_) {
    uint64_t first = 0;
    Status s = log_->ReserveSequence(opts_.sequence_block, &first);
    if (!s.ok()) return s;
    next_seq_ = first;
    seq_end_ = first + opts_.sequence_block;
    reserved_ = true;
  }
  *seq = next_seq_++;
  active_.insert(*seq);
  return Status::OK();
}

void Coordinator::Finish(uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  active_.erase(seq);
}

void Coordinator::StepReached(Step s, const std::string& gid) {
  if (opts_.on_step) opts_.on_step(s, gid, completed_.load());
}

TxnResult Coordinator::Execute(const std::vector<Work>& works) {
  TxnResult r;
  if (works.size() != members_.size()) {
    r.status = Status::InvalidArgument("one Work per participant expected");
    return r;
  }
  uint64_t seq = 0;
  Status s = Begin(&seq);
  if (!s.ok()) {
    r.status = s;
    ++completed_;
    return r;
  }
  r.gid = FormatGid(opts_.id, seq);
  const std::string gid = r.gid;
  Trace* tr = opts_.trace;
  if (tr) tr->Begin(gid);
  bool expecting = !opts_.lrco;
  if (expecting) log_->ExpectCommits(1);
  auto stop_expecting = [&] {
    if (expecting) log_->ExpectCommits(-1);
    expecting = false;
  };
  auto done = [&](TxnOutcome o, Status why) {
    stop_expecting();
    r.outcome = o;
    r.status = std::move(why);
    ++completed_;
    return r;
  };

  std::vector<size_t> prep;  // members that prepare
  for (size_t i = 0; i < members_.size(); ++i) {
    if (opts_.lrco && i == opts_.lrco_member) continue;
    if (Involved(works[i])) prep.push_back(i);
  }
  if (prep.empty() && !opts_.lrco) {
    Finish(seq);
    return done(TxnOutcome::kFailed, Status::InvalidArgument("no participant has work"));
  }
  StepReached(Step::kBeforePrepare, gid);

  // Phase 1.
  bool first_ok = false;
  std::vector<Status> votes =
      Phase(BranchOp::kPrepare, gid, prep, works, [&](size_t, const Status& st) {
        if (st.ok() && !first_ok) {
          first_ok = true;
          StepReached(Step::kAfterPrepareOne, gid);
        }
      });
  Status why;
  std::vector<size_t> maybe_prepared;  // everyone but explicit abort votes
  for (size_t k = 0; k < prep.size(); ++k) {
    if (!votes[k].ok() && why.ok()) why = votes[k];
    if (!votes[k].IsAborted()) maybe_prepared.push_back(prep[k]);
  }
  if (!why.ok()) {
    stop_expecting();
    AbortDecided(gid, seq, why, maybe_prepared);
    return done(TxnOutcome::kAborted, why);
  }
  StepReached(Step::kAfterPrepareAll, gid);

  // The decision.
  Status d;
  if (opts_.lrco) {
    const Member& lr = members_[opts_.lrco_member];
    Work w = works[opts_.lrco_member];
    w.statements.push_back(PgDecisionLog::DecisionRowStatement(gid, opts_.id));
    std::vector<std::function<Status()>> one{[p = lr.participant, op = lr.one_phase, w, tr, gid] {
      if (tr) tr->Send(gid, p->name(), "commit one phase + decision row");
      Status st = op->CommitOnePhase(w);
      if (tr) tr->Reply(gid, p->name(), st.ok() ? "committed (decision)" : st.ToString());
      return st;
    }};
    // A self-bounded participant commits on this thread (no hand-off).
    d = lr.participant->CallsBounded() ? one[0]()
                                       : pool_.Fanout(one, Clock::now() + opts_.call_timeout)[0];
  } else {
    if (tr) tr->Send(gid, "log", "COMMIT record");
    expecting = false;  // LogCommit counts as the arrival (decision_log.h)
    d = log_->LogCommit(gid);
    if (tr) tr->Reply(gid, "log", d.ok() ? "durable" : d.ToString());
  }
  if (!d.ok()) return done(DecisionFailed(gid, seq, d, prep), d);
  if (tr) tr->Note(gid, "decision: commit");
  StepReached(Step::kAfterDecision, gid);

  // Phase 2.
  std::unique_ptr<Job> job = NewJob(seq, gid, prep);
  if (opts_.ack_after == AckAfter::kDecision) {
    if (tr) tr->Note(gid, "acknowledged after the decision; phase 2 in the background");
    Enqueue(std::move(job));
    return done(TxnOutcome::kCommitted, Status::OK());
  }
  const auto deadline = Clock::now() + opts_.phase2_budget;
  for (;;) {
    CommitRound(job.get());
    if (job->remaining.empty()) {
      Complete(job.get());
      return done(TxnOutcome::kCommitted, Status::OK());
    }
    if (Clock::now() + job->backoff.bound() >= deadline) break;
    std::this_thread::sleep_for(job->backoff.Next());
  }
  if (tr) tr->Note(gid, "phase 2 not acknowledged yet: handed to the background");
  ++handed_off_;
  r.phase2_pending = true;
  Enqueue(std::move(job));
  return done(TxnOutcome::kCommitted, Status::OK());
}

void Coordinator::AbortDecided(const std::string& gid, uint64_t seq, const Status& why,
                               const std::vector<size_t>& which) {
  if (opts_.trace) opts_.trace->Note(gid, "decision: abort (" + why.ToString() + ")");
  // Aborted everywhere: now, or by recovery for a participant that did not
  // answer (presumed abort finds no COMMIT record).
  if (!AbortAll(gid, which)) ++left_to_recovery_;
  Finish(seq);
}

TxnOutcome Coordinator::DecisionFailed(const std::string& gid, uint64_t seq, const Status& d,
                                       const std::vector<size_t>& prep) {
  if (d.IsOutcomeUnknown()) {
    // Neither commit nor abort is safe: the decision may be durable.
    // Recovery resolves it from the log (PgDecisionLog fixes the outcome).
    if (opts_.trace) opts_.trace->Note(gid, "decision unknown: left to recovery");
    ++left_to_recovery_;
    Finish(seq);
    return TxnOutcome::kFailed;
  }
  AbortDecided(gid, seq, d, prep);  // the decision is abort (see above)
  return TxnOutcome::kAborted;
}

std::unique_ptr<Coordinator::Job> Coordinator::NewJob(uint64_t seq, const std::string& gid,
                                                      const std::vector<size_t>& prep) const {
  auto job = std::make_unique<Job>();
  job->seq = seq;
  job->gid = gid;
  job->remaining = prep;
  job->backoff = RetryBackoff(opts_);
  return job;
}

bool Coordinator::AbortAll(const std::string& gid, const std::vector<size_t>& which) {
  std::vector<size_t> remaining = which;
  Backoff backoff = RetryBackoff(opts_);
  const auto deadline = Clock::now() + opts_.phase2_budget;
  while (!remaining.empty()) {
    std::vector<Status> res = Phase(BranchOp::kAbort, gid, remaining);
    std::vector<size_t> next;
    for (size_t k = 0; k < remaining.size(); ++k) {
      if (!res[k].ok()) next.push_back(remaining[k]);
    }
    remaining.swap(next);
    if (remaining.empty()) break;
    if (Clock::now() + backoff.bound() >= deadline) return false;  // recovery aborts the rest
    std::this_thread::sleep_for(backoff.Next());
  }
  return true;
}

void Coordinator::CommitRound(Job* job) {
  const std::string gid = job->gid;
  if (job->rounds++ > 0) phase2_retries_ += job->remaining.size();
  std::vector<Status> res =
      Phase(BranchOp::kCommit, job->gid, job->remaining, {}, [&](size_t, const Status& st) {
        if (st.ok() && !job->committed_one) {
          job->committed_one = true;
          StepReached(Step::kAfterCommitOne, gid);
        }
      });
  std::vector<size_t> next;
  for (size_t k = 0; k < job->remaining.size(); ++k) {
    if (!res[k].ok()) next.push_back(job->remaining[k]);
  }
  job->remaining.swap(next);
}

void Coordinator::Complete(Job* job) {
  log_->LogEnd(job->gid);
  if (opts_.trace) opts_.trace->Note(job->gid, "END (every participant acknowledged)");
  Finish(job->seq);
}

void Coordinator::Enqueue(std::unique_ptr<Job> job) {
  std::unique_lock<std::mutex> l(bg_mu_);
  // Backpressure: a phase 2 that cannot keep up slows the callers down
  // instead of growing the queue without bound.
  bg_cv_.wait(l, [&] { return stop_ || bg_queue_.size() + bg_busy_ < opts_.background_capacity; });
  job->next_try = Clock::now();
  bg_queue_.push_back(std::move(job));
  bg_cv_.notify_all();
}

void Coordinator::BackgroundLoop() {
  std::unique_lock<std::mutex> l(bg_mu_);
  for (;;) {
    if (stop_) return;  // what is left stays prepared + logged: recovery finishes it
    if (bg_queue_.empty()) {
      bg_cv_.wait(l);
      continue;
    }
    auto it =
        std::min_element(bg_queue_.begin(), bg_queue_.end(),
                         [](const auto& a, const auto& b) { return a->next_try < b->next_try; });
    if ((*it)->next_try > Clock::now()) {
      bg_cv_.wait_until(l, (*it)->next_try);
      continue;
    }
    std::unique_ptr<Job> job = std::move(*it);
    bg_queue_.erase(it);
    ++bg_busy_;
    l.unlock();
    CommitRound(job.get());
    bool finished = job->remaining.empty();
    if (finished) Complete(job.get());
    l.lock();
    --bg_busy_;
    if (!finished) {
      job->next_try = Clock::now() + job->backoff.Next();
      bg_queue_.push_back(std::move(job));
    }
    bg_cv_.notify_all();
  }
}

size_t Coordinator::Drain(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(bg_mu_);
  bg_cv_.wait_for(l, timeout, [&] { return bg_queue_.empty() && bg_busy_ == 0; });
  return bg_queue_.size() + bg_busy_;
}

void Coordinator::RecoveryLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> l(bg_mu_);
      if (bg_cv_.wait_for(l, opts_.recovery_interval, [&] { return stop_; })) return;
    }
    RecoveryReport r;
    (void)Recover(&r);  // errors are in the report; the next pass retries
  }
}

Status Coordinator::Recover(RecoveryReport* report) {
  std::lock_guard<std::mutex> rl(recover_mu_);
  InFlight snap;
  {
    std::lock_guard<std::mutex> l(mu_);
    snap.seqs = active_;
    if (reserved_) snap.limit = next_seq_;
  }
  RecoveryContext ctx;
  ctx.coordinator_id = opts_.id;
  ctx.members = &members_;
  ctx.log = log_.get();
  ctx.pool = &pool_;
  ctx.call_timeout = opts_.call_timeout;
  Status s = RecoverOnce(ctx, snap, report);
  std::lock_guard<std::mutex> l(report_mu_);
  RecoveryReport keep = *report;
  // The periodic loop runs for hours: keep the counters, cap the details.
  constexpr size_t kMaxKept = 1000;
  if (recovery_total_.actions.size() >= kMaxKept) keep.actions.clear();
  if (recovery_total_.errors.size() >= kMaxKept) keep.errors.clear();
  recovery_total_.Merge(keep);
  return s;
}

Coordinator::Stats Coordinator::stats() const {
  Stats s;
  s.log_forced_writes = log_->forced_writes();
  s.phase2_retries = phase2_retries_.load();
  s.handed_to_background = handed_off_.load();
  s.left_to_recovery = left_to_recovery_.load();
  s.call_threads = pool_.threads();
  std::lock_guard<std::mutex> l(report_mu_);
  s.recovery = recovery_total_;
  return s;
}

}  // namespace dw::coord
