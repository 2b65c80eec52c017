// Child processes: the embedded environment starts Postgres and the broker,
// tests and `compare` start, SIGKILL and restart them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace dw {

struct SpawnOptions {
  std::string stdout_path;   // empty: inherit
  std::string stderr_path;   // empty: inherit; "=stdout" shares stdout's file
  bool append = true;        // append to the output files instead of truncating
  bool new_session = false;  // setsid(): survives the parent's terminal and group signals
  std::optional<uid_t> uid;  // drop to this user (root only)
  std::optional<gid_t> gid;
  std::vector<std::string> env;  // extra NAME=VALUE entries (override inherited ones)
  std::string cwd;
};

// fork + exec. Returns the child's pid in *pid.
Status Spawn(const std::vector<std::string>& argv, const SpawnOptions& opts, pid_t* pid);

// Runs argv to completion, capturing stdout+stderr into *output (may be null).
// A non-zero exit is an error whose message carries the command's last output line.
Status RunCommand(const std::vector<std::string>& argv, std::string* output,
                  const SpawnOptions& opts = {});

// True when a process with that pid exists (and is not a zombie of ours).
bool ProcessAlive(pid_t pid);

// Waits for a child of ours to exit; returns its raw wait status, or nullopt on timeout.
std::optional<int> WaitChild(pid_t pid, std::chrono::milliseconds timeout);

// Waits until `pid` (any process, not necessarily our child) is gone.
bool WaitGone(pid_t pid, std::chrono::milliseconds timeout);

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0).
int FreeTcpPort();

// Absolute path of the running executable (/proc/self/exe).
std::string SelfExe();

// Looks up an OS user; false if absent.
bool LookupUser(const std::string& name, uid_t* uid, gid_t* gid);

}  // namespace dw
