// MemoryDecisionLog: a DecisionLog (coordinator/decision_log.h) in memory,
// for in-process tests of the coordinator and of recovery.
//
// It keeps the contract's records: COMMIT (LogCommit; counted as one forced
// write per call), END (LogEnd), the sequence high-water mark. Resolve
// answers from them: COMMIT without END -> committed; END -> NotFound; no
// record -> abort, which it fixes as PgDecisionLog does, so a LogCommit of
// that gid arriving later is refused with Aborted.
//
// Faults: FailCommits(status, n) makes the next n LogCommit calls answer
// `status`. With `durable` false (the default) nothing is recorded (a write
// that failed); with true the COMMIT is recorded all the same (a write that
// reached the disk but whose answer was lost, as with InDoubt). Outstanding
// ExpectCommits (expected()) lets a test check the coordinator's accounting.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/decision_log.h"

namespace dw::testing {

class MemoryDecisionLog : public coord::DecisionLog {
 public:
  void FailCommits(Status status, int times = 1, bool durable = false);
  // A COMMIT record as if written by an earlier process.
  void AddCommit(const std::string& gid);

  std::set<std::string> commits() const;  // every COMMIT recorded
  std::set<std::string> ended() const;    // every END recorded
  int expected() const { return expected_.load(); }

  std::string Describe() const override { return "memory"; }
  Status LogCommit(const std::string& gid) override;
  void LogEnd(const std::string& gid) override;
  Status Flush() override { return Status::OK(); }
  Status Resolve(const std::string& gid, bool* committed) override;
  Status ListOpen(std::vector<std::string>* gids) override;
  Status ReserveSequence(uint64_t n, uint64_t* first) override;
  uint64_t forced_writes() const override { return forced_writes_.load(); }
  void ExpectCommits(int delta) override { expected_ += delta; }

 private:
  mutable std::mutex mu_;
  std::deque<std::pair<Status, bool>> failures_;  // guarded by mu_; (answer, durable)
  std::set<std::string> commits_;                 // guarded by mu_
  std::set<std::string> ended_;                   // guarded by mu_
  std::set<std::string> fixed_aborts_;            // guarded by mu_
  uint64_t next_seq_ = 1;                         // guarded by mu_
  std::atomic<uint64_t> forced_writes_{0};
  std::atomic<int> expected_{0};
};

}  // namespace dw::testing
