#include "tests/support/fake_participant.h"

#include <thread>

namespace dw::testing {

void FakeParticipant::Answer(Method m, Status status, int times) {
  std::lock_guard<std::mutex> l(mu_);
  for (int i = 0; i < times; ++i) answers_[m].push_back(status);
}

void FakeParticipant::Delay(Method m, std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> l(mu_);
  delays_[m] = d;
}

void FakeParticipant::AddPrepared(const std::string& gid) {
  std::lock_guard<std::mutex> l(mu_);
  prepared_[gid] = std::chrono::system_clock::now();
}

int FakeParticipant::calls(Method m) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = calls_.find(m);
  return it == calls_.end() ? 0 : it->second;
}

std::set<std::string> FakeParticipant::prepared() const {
  std::lock_guard<std::mutex> l(mu_);
  std::set<std::string> out;
  for (const auto& [gid, at] : prepared_) out.insert(gid);
  return out;
}

std::set<std::string> FakeParticipant::committed() const {
  std::lock_guard<std::mutex> l(mu_);
  return committed_;
}

std::set<std::string> FakeParticipant::aborted() const {
  std::lock_guard<std::mutex> l(mu_);
  return aborted_;
}

bool FakeParticipant::Enter(Method m, Status* scripted) {
  std::chrono::milliseconds delay{0};
  bool replaced = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++calls_[m];
    auto d = delays_.find(m);
    if (d != delays_.end()) delay = d->second;
    auto& q = answers_[m];
    if (!q.empty()) {
      *scripted = q.front();
      q.pop_front();
      replaced = !scripted->ok();
    }
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  return replaced;
}

Status FakeParticipant::Prepare(const std::string& gid, const Work&) {
  Status s;
  if (Enter(Method::kPrepare, &s)) return s;
  std::lock_guard<std::mutex> l(mu_);
  prepared_[gid] = std::chrono::system_clock::now();
  return Status::OK();
}

Status FakeParticipant::Commit(const std::string& gid) {
  Status s;
  if (Enter(Method::kCommit, &s)) return s;
  std::lock_guard<std::mutex> l(mu_);
  if (prepared_.erase(gid) > 0) {
    committed_.insert(gid);
    return Status::OK();
  }
  if (committed_.count(gid)) return Status::OK();
  return Status::NotFound(name_ + ": no prepared transaction " + gid);
}

Status FakeParticipant::Abort(const std::string& gid) {
  Status s;
  if (Enter(Method::kAbort, &s)) return s;
  std::lock_guard<std::mutex> l(mu_);
  if (prepared_.erase(gid) > 0) aborted_.insert(gid);
  return Status::OK();
}

Status FakeParticipant::ListInDoubt(const std::string& gid_prefix, std::vector<InDoubtTxn>* out) {
  Status s;
  if (Enter(Method::kList, &s)) return s;
  std::lock_guard<std::mutex> l(mu_);
  out->clear();
  for (const auto& [gid, at] : prepared_) {
    if (gid.starts_with(gid_prefix)) out->push_back(InDoubtTxn{gid, at});
  }
  return Status::OK();
}

namespace {

class FakeStarted : public StartedCall {
 public:
  explicit FakeStarted(std::function<Status()> call) : call_(std::move(call)) {}
  Status Finish() override { return call_(); }

 private:
  std::function<Status()> call_;
};

}  // namespace

std::unique_ptr<StartedCall> FakeParticipant::Started(std::function<Status()> call) {
  if (!startable_) return nullptr;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++started_;
  }
  return std::make_unique<FakeStarted>(std::move(call));
}

std::unique_ptr<StartedCall> FakeParticipant::StartPrepare(const std::string& gid,
                                                           const Work& work) {
  return Started([this, gid, work] { return Prepare(gid, work); });
}

std::unique_ptr<StartedCall> FakeParticipant::StartCommit(const std::string& gid) {
  return Started([this, gid] { return Commit(gid); });
}

std::unique_ptr<StartedCall> FakeParticipant::StartAbort(const std::string& gid) {
  return Started([this, gid] { return Abort(gid); });
}

std::vector<std::unique_ptr<StartedCall>> FakeParticipant::StartPrepareMany(
    const std::vector<std::string>& gids, const std::vector<const Work*>& works) {
  std::vector<std::unique_ptr<StartedCall>> calls;
  if (!takes_many_ || !startable_) return calls;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++many_requests_;
  }
  for (size_t i = 0; i < gids.size(); ++i) calls.push_back(StartPrepare(gids[i], *works[i]));
  return calls;
}

std::vector<std::unique_ptr<StartedCall>> FakeParticipant::StartCommitMany(
    const std::vector<std::string>& gids) {
  std::vector<std::unique_ptr<StartedCall>> calls;
  if (!takes_many_ || !startable_) return calls;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++many_requests_;
  }
  for (const auto& g : gids) calls.push_back(StartCommit(g));
  return calls;
}

int FakeParticipant::many_requests() const {
  std::lock_guard<std::mutex> l(mu_);
  return many_requests_;
}

int FakeParticipant::started() const {
  std::lock_guard<std::mutex> l(mu_);
  return started_;
}

}  // namespace dw::testing
