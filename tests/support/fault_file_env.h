// FaultFileEnv: a FileEnv (common/file_env.h) over the real file system
// that injects the faults a RecordFile must survive:
//   - a write that fails, after writing some of its bytes or none;
//   - a cut (Truncate) or a Sync that fails;
//   - a crash: every file written through it loses what was written after
//     its last Sync, except, if asked, the first bytes of that (a torn
//     tail); what was synced stays.
// It tracks each file's size and synced size by path, so a crash may be
// simulated after the RecordFile on it was closed (as a process would be
// gone). Files are taken to be append-only past their synced size, as a
// RecordFile's are. A file that existed before it was first opened here
// counts as synced. Thread-safe; it must outlive the files it opened.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/file_env.h"
#include "common/status.h"

namespace dw::testing {

class FaultFileEnv : public FileEnv {
 public:
  explicit FaultFileEnv(FileEnv* base = FileEnv::Default()) : base_(base) {}

  // The write after the next `ok_writes` ones fails with `error` after
  // writing the first `partial_bytes` of its bytes (all of them if fewer).
  void FailWrite(Status error, size_t partial_bytes = 0, int ok_writes = 0);
  // While set, every Truncate / Sync fails with IOError and changes nothing.
  void FailTruncates(bool fail);
  void FailSyncs(bool fail);

  // Every file loses its unsynced bytes but the first `keep_unsynced`.
  Status SimulateCrash(uint64_t keep_unsynced = 0);

  int writes() const;  // WriteAt calls, failed ones included
  int syncs() const;   // successful Syncs
  uint64_t unsynced_bytes(const std::string& path) const;

  Status Open(const std::string& path, std::unique_ptr<File>* out) override;
  Status ReplaceAtomically(const std::string& path, std::string_view bytes) override;

 private:
  class FaultFile;
  struct Tracked {
    uint64_t size = 0;
    uint64_t synced = 0;
  };

  FileEnv* const base_;
  mutable std::mutex mu_;
  std::map<std::string, Tracked> files_;  // guarded by mu_
  int writes_ = 0;                        // guarded by mu_
  int syncs_ = 0;                         // guarded by mu_
  int fail_write_in_ = -1;                // guarded by mu_; -1: no failure armed
  Status write_error_;                    // guarded by mu_
  size_t partial_bytes_ = 0;              // guarded by mu_
  bool fail_truncates_ = false;           // guarded by mu_
  bool fail_syncs_ = false;               // guarded by mu_
};

}  // namespace dw::testing
