// RecordFile: an append-only file of checksummed records, the durable
// medium of both the broker's log and the coordinator's decision log.
//
// On-disk frame (little endian):
//   u32 length | u32 crc32c(length bytes + payload) | payload[length]
// The length is inside the checksum so a flipped length bit is caught
// instead of sending replay off into the middle of another record.
//
// Replay reads frames in order and stops at the first bad one. What follows
// decides what it was:
//   - nothing valid after it (a crash mid-write, or garbage to EOF): a torn
//     tail. It was never acknowledged (we acknowledge only after fsync), so
//     it is truncated away and reported.
//   - a valid frame after it: a corrupt middle. Acknowledged data lies behind
//     the damage, so Open refuses with Corruption instead of silently
//     dropping it; a human decides.
//
// Preallocation (set_preallocate): the file is extended ahead of the records
// by writing zeros and syncing them, so that an append followed by Sync
// overwrites blocks the file already has and fdatasync need not also commit
// a new file size to the file system's journal (what Postgres does with its
// WAL segments). On ext4 that takes a 300-byte append + fdatasync from about
// 190-240 µs to 130-150 µs, and its CPU from 80-100 µs to about 55.
// Replay therefore reads zeros after the last record as unused space, not
// as damage: a length of 0 is never a valid frame, and a file ending in
// zeros is one a preallocating writer left. A torn frame followed by such
// zeros (a crash while writing into the preallocated space) has its bytes
// zeroed and reported as truncated; the space stays allocated.
// The file is reached through a FileEnv (common/file_env.h): the real file
// system unless the caller passes another, as the fault tests do.
// Not thread-safe: the owner serialises Append/Sync (one writer thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_env.h"
#include "common/status.h"

namespace dw {

class RecordFile {
 public:
  struct ReplayReport {
    uint64_t records = 0;          // valid records delivered to the callback
    uint64_t valid_bytes = 0;      // bytes of the valid records (where appends go)
    uint64_t truncated_bytes = 0;  // torn tail removed (cut off, or zeroed before unused space)
    uint64_t unused_bytes = 0;     // zeros after it all: space a preallocating writer left
  };
  using ReplayFn = std::function<Status(std::string_view payload)>;

  // Opens (creating if absent) `path`, replays every valid record into `fn`
  // (a non-OK status from fn aborts the open), truncates a torn tail, and
  // leaves the file positioned for appends.
  static Status Open(const std::string& path, const ReplayFn& fn, std::unique_ptr<RecordFile>* out,
                     ReplayReport* report, FileEnv* env = FileEnv::Default());

  ~RecordFile();
  RecordFile(const RecordFile&) = delete;
  RecordFile& operator=(const RecordFile&) = delete;

  // Appends `payload` framed to `*buf` (to batch several records into one write).
  static void Frame(std::string_view payload, std::string* buf);

  // From now on, extend the file by `chunk` bytes of zeros (synced) whenever
  // an append would pass its allocated end; 0 (the default) never does.
  void set_preallocate(uint64_t chunk) { preallocate_ = chunk; }

  // Writes pre-framed bytes at the end of the records with one write() loop.
  // On failure (ENOSPC -> NoSpace, other errno -> IOError) the file is cut back
  // to its previous size (the end of the records: any preallocated space goes
  // too), so a failed append never leaves a partial frame.
  // Should that cut fail too, what reached the file stays: a partial frame
  // at the end is a torn tail the next Open truncates, but whole frames of
  // `framed` written before the failure would replay.
  Status AppendFramed(std::string_view framed);

  // fdatasync. Counts toward syncs().
  Status Sync();

  // Cuts the file back to `size` bytes, preallocated space included
  // (compaction of a log's head is done by Rewrite instead).
  Status Truncate(uint64_t size);

  // Atomically replaces the file at `path` with one holding exactly `payloads`
  // (tmp file + fsync + rename + fsync of the folder), for compaction. The
  // open RecordFile of that path must be reopened afterwards.
  static Status Rewrite(const std::string& path, const std::vector<std::string>& payloads,
                        FileEnv* env = FileEnv::Default());

  uint64_t size() const { return size_; }            // the end of the records
  uint64_t allocated() const { return allocated_; }  // the file's size
  uint64_t syncs() const { return syncs_; }
  const std::string& path() const { return path_; }

 private:
  RecordFile(std::string path, std::unique_ptr<FileEnv::File> file, uint64_t size,
             uint64_t allocated);
  // Zeros from allocated_ up to at least `end` (rounded up by preallocate_), synced.
  Status Preallocate(uint64_t end);
  std::string path_;
  std::unique_ptr<FileEnv::File> file_;
  uint64_t size_;
  uint64_t allocated_;
  uint64_t preallocate_ = 0;
  uint64_t syncs_ = 0;
};

}  // namespace dw
