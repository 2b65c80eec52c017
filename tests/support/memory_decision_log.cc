#include "tests/support/memory_decision_log.h"

namespace dw::testing {

void MemoryDecisionLog::FailCommits(Status status, int times, bool durable) {
  std::lock_guard<std::mutex> l(mu_);
  for (int i = 0; i < times; ++i) failures_.emplace_back(status, durable);
}

void MemoryDecisionLog::AddCommit(const std::string& gid) {
  std::lock_guard<std::mutex> l(mu_);
  commits_.insert(gid);
}

std::set<std::string> MemoryDecisionLog::commits() const {
  std::lock_guard<std::mutex> l(mu_);
  return commits_;
}

std::set<std::string> MemoryDecisionLog::ended() const {
  std::lock_guard<std::mutex> l(mu_);
  return ended_;
}

Status MemoryDecisionLog::LogCommit(const std::string& gid) {
  --expected_;  // this transaction has arrived (decision_log.h)
  ++forced_writes_;
  std::lock_guard<std::mutex> l(mu_);
  if (fixed_aborts_.count(gid)) {
    return Status::Aborted("decision log: " + gid + " was fixed as aborted by recovery");
  }
  if (!failures_.empty()) {
    auto [answer, durable] = failures_.front();
    failures_.pop_front();
    if (durable) commits_.insert(gid);
    return answer;
  }
  commits_.insert(gid);
  return Status::OK();
}

void MemoryDecisionLog::LogEnd(const std::string& gid) {
  std::lock_guard<std::mutex> l(mu_);
  ended_.insert(gid);
}

Status MemoryDecisionLog::Resolve(const std::string& gid, bool* committed) {
  std::lock_guard<std::mutex> l(mu_);
  if (ended_.count(gid)) return Status::NotFound("decision log: " + gid + " already ended");
  *committed = commits_.count(gid) > 0;
  if (!*committed) fixed_aborts_.insert(gid);
  return Status::OK();
}

Status MemoryDecisionLog::ListOpen(std::vector<std::string>* gids) {
  std::lock_guard<std::mutex> l(mu_);
  gids->clear();
  for (const auto& g : commits_) {
    if (!ended_.count(g)) gids->push_back(g);
  }
  return Status::OK();
}

Status MemoryDecisionLog::ReserveSequence(uint64_t n, uint64_t* first) {
  std::lock_guard<std::mutex> l(mu_);
  *first = next_seq_;
  next_seq_ += n;
  ++forced_writes_;
  return Status::OK();
}

}  // namespace dw::testing
