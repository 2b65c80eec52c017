// DaemonFrame: what every managed server of a state folder shares
// (nats-server, rabbitmq-server with its epmd, pgqd), so that each daemon's
// file holds only what is its own: its command line, its readiness probe,
// its ports and what "already running" means for it.
//
// A managed server lives in a folder of its own under the state folder and
// is started detached (its own session, working folder = its folder, stdout
// and stderr appended to one file) so that it outlives the command that
// started it. Its pid is kept in a pid file; since pids are reused, a pid
// counts as ours only while that process carries the spec's argv marks.
//
// The contract, in the order an Ensure uses it:
//   - FindServerBinary: the executable, or one line naming the Debian
//     package that brings it (FailedPrecondition).
//   - Prepare: creates the folder (and the subfolders asked for), then holds
//     <folder>/.lock until the FolderLock dies, so that two commands
//     ensuring the same server at once start one.
//   - Running: the live pid of the pid file, or 0.
//   - Spawn: starts a ServerKind detached on a port and waits for its
//     readiness probe within the kind's deadline. The process is handed
//     back unreleased: the caller Release()s it once nothing can roll the
//     start back, and until then dropping it kills it.
//   - Stop: SIGTERM, SIGKILL after a grace period, then the pid file goes.
//     Nothing running is OK.
// Messages are the daemons' own: "stopping <name> (pid N)" to the log and
// "<name> (pid N) does not die" as the error.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "env/server_process.h"

namespace dw::env {

// `program` in each folder of $PATH (when `search_path`), then at each of
// `fallbacks` (full paths). FailedPrecondition when none is executable:
// "<program> is not installed: install the Debian package <package> (...)".
Status FindServerBinary(const std::string& program, bool search_path,
                        const std::vector<std::string>& fallbacks, const std::string& package,
                        std::string* path);

// The pid written in `file` when that process is alive and carries each of
// `marks` among its argv elements; else 0.
pid_t PidFromFile(const std::string& file, const std::vector<std::string>& marks);

// An exclusive flock() on a folder's lock file, held for the object's life.
class FolderLock {
 public:
  FolderLock() = default;
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

  Status Acquire(const std::string& path);

 private:
  int fd_ = -1;
};

struct DaemonSpec {
  std::string name;                // "nats-server": in messages
  std::string dir;                 // <state>/<its folder>; the lock is dir/.lock
  std::string pid_file;            // the pid Running() and Stop() mean
  std::string out;                 // stdout + stderr of what Spawn starts
  std::vector<std::string> marks;  // argv elements that tell our process from a reused pid
};

class DaemonFrame {
 public:
  explicit DaemonFrame(DaemonSpec spec) : spec_(std::move(spec)) {}

  pid_t Running() const { return PidFromFile(spec_.pid_file, spec_.marks); }

  // Creates each of `subdirs` (the folder itself when there are none), then
  // takes the folder's lock into *lock.
  Status Prepare(const std::vector<std::string>& subdirs, FolderLock* lock) const;

  // Starts `kind` on `port` detached, its output appended to spec().out and
  // its pid written to spec().pid_file, trying `attempts` times when it exits
  // before it is ready. *process holds it, unreleased, on success.
  Status Spawn(ServerKind kind, int port, int attempts, ServerProcess* process) const;

  // Stops the pid Running() names: "stopping <name> (pid N)" to `log` (none
  // when null), SIGTERM, SIGKILL after `grace`; removes the pid file.
  Status Stop(std::ostream* log, std::chrono::milliseconds grace) const;

  const DaemonSpec& spec() const { return spec_; }

 private:
  DaemonSpec spec_;
};

}  // namespace dw::env
