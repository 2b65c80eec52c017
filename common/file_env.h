// FileEnv: the file operations under a RecordFile, behind an interface so a
// test can put one under it that fails writes or forgets what was not
// synced (tests/support/fault_file_env.h). FileEnv::Default() is the real
// file system; every other user of RecordFile gets that one.
//
// Contract of a File (what RecordFile relies on):
//   ReadAll   the whole file as it is now.
//   WriteAt   writes bytes at an offset. On an error any prefix of them may
//             have reached the file (a short write); nothing else changed.
//   Sync      fdatasync: every byte written or cut before it survives a
//             crash. What was written and not synced may be lost in a
//             crash, all of it or from some point on (a torn tail).
//   Truncate  cuts the file to `size` bytes; durable only after a Sync.
// Errors: NoSpace for a full disk or quota (ENOSPC, EDQUOT, EFBIG), IOError
// otherwise; the message names the operation, the path and the reason.
// A File is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace dw {

class FileEnv {
 public:
  class File {
   public:
    virtual ~File() = default;
    virtual Status ReadAll(std::string* out) = 0;
    virtual Status WriteAt(std::string_view bytes, uint64_t offset) = 0;
    virtual Status Sync() = 0;
    virtual Status Truncate(uint64_t size) = 0;
  };

  virtual ~FileEnv() = default;

  // Opens `path` for reading and writing, creating it (empty) if absent.
  virtual Status Open(const std::string& path, std::unique_ptr<File>* out) = 0;

  // Afterwards `path` durably holds exactly `bytes`; on an error or a crash
  // it holds its old content, never a mix (a temporary file, fdatasync,
  // rename, fsync of the folder).
  virtual Status ReplaceAtomically(const std::string& path, std::string_view bytes) = 0;

  // The real file system (POSIX calls). Never destroyed.
  static FileEnv* Default();
};

}  // namespace dw
