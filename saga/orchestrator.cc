#include "saga/orchestrator.h"

#include <thread>

#include "saga/events.h"

namespace dw::saga {

Orchestrator::Orchestrator(const SagaOptions& o) : opts_(o), crash_(o.crash_at, o.crash_after) {}

Status Orchestrator::Create(const SagaOptions& o, std::unique_ptr<Orchestrator>* out) {
  std::unique_ptr<Orchestrator> orch(new Orchestrator(o));
  BrokerClient::Options bo;
  bo.url = o.broker_url;
  bo.timeout = o.publish_timeout;
  bo.max_idle_connections = std::max(4, o.workers + 2);
  Status s = BrokerClient::Create(bo, &orch->broker_);
  if (!s.ok()) return s;
  for (int i = 0; i < std::max(1, o.workers); ++i) {
    orch->workers_.push_back(std::make_unique<SagaSteps>(o.dsn, o.application_name));
  }
  orch->recover_steps_ = std::make_unique<SagaSteps>(o.dsn, o.application_name + "-recovery");
  if (o.recovery_interval.count() > 0) {
    orch->loop_ = std::thread([p = orch.get()] { p->Loop(); });
  }
  *out = std::move(orch);
  return Status::OK();
}

Orchestrator::~Orchestrator() {
  {
    std::lock_guard<std::mutex> l(loop_mu_);
    stop_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
}

void Orchestrator::MaybeCrash(CrashAt at, int64_t id) const {
  if (crash_.Due(at)) CrashNow(at, id);
}

void Orchestrator::Count(SagaEnd e) {
  crash_.Finished();
  std::lock_guard<std::mutex> l(stats_mu_);
  (e == SagaEnd::kPlaced      ? stats_.placed
   : e == SagaEnd::kCancelled ? stats_.cancelled
                              : stats_.open)++;
}

SagaEnd Orchestrator::PlaceOrder(int worker, const workload::Order& o, Status* error) {
  SagaSteps* steps = workers_.at(static_cast<size_t>(worker)).get();
  const std::string payload = workload::OrderPlacedPayload(o);
  Barrier b;
  Status s = steps->Begin(o, payload, &b);
  SagaEnd end;
  if (!s.ok()) {
    *error = s;  // T1's fate is unknown to us; if it committed, recovery finishes it
    end = SagaEnd::kOpen;
  } else if (b != Barrier::kApplied) {
    end = SagaEnd::kCancelled;  // compensated before T1 arrived: nothing was done
  } else {
    MaybeCrash(CrashAt::kAfterT1, o.id);
    end = Drive(steps, o.id, PlacedMessage(o.id, payload), false, error);
  }
  (void)steps->Release(o.id);  // an error here closed the session, which releases it too
  Count(end);
  return end;
}

SagaEnd Orchestrator::Drive(SagaSteps* steps, int64_t id, const OutMessage& placed, bool in_doubt,
                            Status* error) {
  PivotReport p = PublishPivot(broker_.get(), placed, opts_.pivot);
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    stats_.publish_attempts += static_cast<uint64_t>(p.attempts);
    if (p.result == PivotResult::kRefused) ++stats_.refused;
    if (p.result == PivotResult::kOutOfBudget) ++stats_.out_of_budget;
  }
  Backoff backoff(opts_.pivot.backoff);
  const auto deadline = std::chrono::steady_clock::now() + opts_.pivot.budget;
  Barrier b;
  if (p.result == PivotResult::kPublished) {
    MaybeCrash(CrashAt::kAfterPublish, id);
    // T3 is retriable: past the pivot the saga only goes forward.
    for (;;) {
      Status s = steps->Confirm(id, &b);
      if (s.ok()) break;
      *error = s;
      auto wait = backoff.Next();
      if (std::chrono::steady_clock::now() + wait >= deadline) return SagaEnd::kOpen;
      std::this_thread::sleep_for(wait);
    }
    // kBlocked: another driver compensated first (it published the fence).
    return b == Barrier::kBlocked ? SagaEnd::kCancelled : SagaEnd::kPlaced;
  }
  in_doubt |= p.in_doubt;
  for (;;) {
    Status s = steps->Compensate(id, in_doubt, &b);
    if (s.ok()) break;
    *error = s;
    auto wait = backoff.Next();
    if (std::chrono::steady_clock::now() + wait >= deadline) return SagaEnd::kOpen;
    std::this_thread::sleep_for(wait);
  }
  switch (b) {
    case Barrier::kApplied:
      if (in_doubt) {
        std::lock_guard<std::mutex> l(stats_mu_);
        ++stats_.in_doubt;
      }
      MaybeCrash(CrashAt::kDuringCompensation, id);
      return SendCompensation(steps, id, placed, in_doubt, error);
    case Barrier::kBlocked:
      return SagaEnd::kPlaced;  // T3 won: the order stands
    case Barrier::kDuplicate:
    case Barrier::kNullCompensation:
      break;
  }
  return SagaEnd::kCancelled;
}

SagaEnd Orchestrator::SendCompensation(SagaSteps* steps, int64_t id, const OutMessage& placed,
                                       bool in_doubt, Status* error) {
  Status s =
      PublishCompensation(broker_.get(), placed, CancelledMessage(id), in_doubt, opts_.pivot);
  if (s.ok()) s = steps->FinishCompensation(id);
  if (!s.ok()) {
    *error = s;
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.compensation_events_left;
  }
  return SagaEnd::kCancelled;
}

SagaStats Orchestrator::stats() const {
  std::lock_guard<std::mutex> l(stats_mu_);
  return stats_;
}

}  // namespace dw::saga
