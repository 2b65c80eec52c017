// FileDecisionLog: the decision log as an append-only file of CRC'd records
// (common/record_file.h), with group commit.
//
// Records (the payload of one RecordFile frame):
//   'C' gid        COMMIT, forced
//   'E' gid        END, not forced: written with the next forced batch or
//                  by Flush()
//   'S' <u64 LE>   sequence high-water mark, forced (ReserveSequence)
// Replay at Open rebuilds the set of open COMMITs (C minus E) and the
// high-water mark; a torn tail (a crash mid-append) is truncated by
// RecordFile; such a record was never acknowledged, because LogCommit
// returns only after fdatasync.
//
// Compaction: when the file passes `compact_bytes`, the leader of a batch
// rewrites it to hold only the high-water mark and the open COMMITs
// (RecordFile::Rewrite: tmp + fsync + rename), so the file stays bounded by
// the number of transactions in flight, not by history.
//
// A failed write is cut back by RecordFile and reported (the batch aborts).
// A failed fdatasync leaves it unknown what reached the disk (the kernel may
// have dropped the dirty pages), so, like Postgres after an fsync failure,
// the log refuses all further work (InDoubt) until the process restarts and
// replays what is really on disk.
//
// `PATH.lock` is flock()ed for the lifetime of the object: one process per log.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/record_file.h"
#include "coordinator/decision_log.h"
#include "coordinator/group_commit.h"

namespace dw::coord {

class FileDecisionLog : public DecisionLog {
 public:
  struct Options {
    std::string path;
    uint64_t compact_bytes = 4u << 20;
    GroupCommit::Options group;
    // How long Open retries the lock before giving up (a process that just
    // died may still be exiting).
    std::chrono::milliseconds lock_wait{3000};
  };
  struct OpenReport {
    uint64_t records = 0;
    uint64_t truncated_bytes = 0;
    size_t open_commits = 0;
  };

  static Status Open(const Options& opts, std::unique_ptr<FileDecisionLog>* out,
                     OpenReport* report = nullptr);
  ~FileDecisionLog() override;

  std::string Describe() const override { return "file:" + opts_.path; }
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
  uint64_t compactions() const;

 private:
  explicit FileDecisionLog(const Options& opts);
  void FlushBatch(const std::vector<LogEntry>& batch, std::vector<Status>* results);
  Status MaybeCompact();  // leader only

  const Options opts_;
  int lock_fd_ = -1;
  std::unique_ptr<GroupCommit> group_;

  // The file belongs to the current batch leader (GroupCommit runs one at a
  // time) and to Flush, which takes file_mu_ like the leader does.
  std::mutex file_mu_;
  std::unique_ptr<RecordFile> file_;  // guarded by file_mu_

  mutable std::mutex mu_;
  std::string pending_ends_;              // framed END records, guarded by mu_
  std::unordered_set<std::string> open_;  // durable COMMITs without END, guarded by mu_
  uint64_t hwm_ = 1;                      // next sequence to reserve, guarded by mu_
  uint64_t durable_hwm_ = 1;              // as on disk, guarded by mu_
  Status broken_;                         // sticky after an fsync failure, guarded by mu_
  uint64_t syncs_ = 0;                    // guarded by mu_
  uint64_t compactions_ = 0;              // guarded by mu_
};

}  // namespace dw::coord
