// Orchestrator::Recover and its loop, and RecoveryReport's rendering.
#include <sstream>

#include "saga/events.h"
#include "saga/orchestrator.h"

namespace dw::saga {

void RecoveryReport::Add(const RecoveryReport& r) {
  listed += r.listed;
  owned += r.owned;
  placed += r.placed;
  cancelled += r.cancelled;
  events_sent += r.events_sent;
  still_open += r.still_open;
  for (const auto& e : r.errors) {
    if (errors.size() < 5) errors.push_back(e);
  }
}

nlohmann::json RecoveryReport::ToJson() const {
  return {{"listed", listed},
          {"owned", owned},
          {"placed", placed},
          {"cancelled", cancelled},
          {"events_sent", events_sent},
          {"still_open", still_open},
          {"errors", errors}};
}

std::string RecoveryReport::ToText() const {
  std::ostringstream o;
  o << "open sagas found: " << listed << " (owned by a live driver, left alone: " << owned << ")\n"
    << "  pending -> placed:                   " << placed << "\n"
    << "  pending -> cancelled (compensated):  " << cancelled << "\n"
    << "  compensating -> OrderCancelled sent: " << events_sent << "\n"
    << "  still open:                          " << still_open << "\n";
  for (const auto& e : errors) o << "  error: " << e << "\n";
  return o.str();
}

Status Orchestrator::Recover(RecoveryReport* out) {
  std::lock_guard<std::mutex> lock(recover_mu_);
  *out = RecoveryReport{};
  SagaSteps* steps = recover_steps_.get();
  std::vector<int64_t> ids;
  Status s = steps->ListOpen(&ids);
  if (!s.ok()) return s;
  out->listed = ids.size();
  auto note = [out](int64_t id, const Status& e) {
    ++out->still_open;
    if (out->errors.size() < 5) out->errors.push_back(std::to_string(id) + ": " + e.ToString());
  };
  for (int64_t id : ids) {
    bool claimed = false;
    OpenSaga saga;
    s = steps->Claim(id, &claimed, &saga);
    if (!s.ok()) {
      note(id, s);
      continue;
    }
    if (!claimed) {
      ++out->owned;  // or finished between the listing and the claim
      continue;
    }
    const OutMessage placed = PlacedMessage(id, saga.payload);
    Status err;
    if (saga.state == "pending") {
      // A dead driver's last attempt may still land: in doubt.
      SagaEnd end = Drive(steps, id, placed, true, &err);
      if (end == SagaEnd::kPlaced) {
        ++out->placed;
      } else if (end == SagaEnd::kCancelled) {
        ++out->cancelled;
        if (!err.ok()) note(id, err);  // cancelled, its event left for the next pass
      } else {
        note(id, err);
      }
    } else {
      Status e2;
      SendCompensation(steps, id, placed, saga.in_doubt, &e2);
      if (e2.ok()) {
        ++out->events_sent;
      } else {
        note(id, e2);
      }
    }
    // An error closed the session, which released the barrier lock too.
    (void)steps->Release(id);
  }
  return Status::OK();
}

void Orchestrator::Loop() {
  std::unique_lock<std::mutex> l(loop_mu_);
  while (!loop_cv_.wait_for(l, opts_.recovery_interval, [this] { return stop_; })) {
    l.unlock();
    RecoveryReport r;
    Status s = Recover(&r);
    if (!s.ok() && r.errors.empty()) r.errors.push_back(s.ToString());
    {
      std::lock_guard<std::mutex> g(stats_mu_);
      stats_.recovery.Add(r);
    }
    l.lock();
  }
}

}  // namespace dw::saga
