// Reading /proc to tell whether a remembered pid is still the process we
// started (pids are reused), who it runs as, and how much CPU it used.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace dw::env {

// The argv of a live process; empty if it is gone or unreadable.
std::vector<std::string> ProcessArgv(pid_t pid);

// The kernel's short name of a live process (/proc/PID/comm), e.g. "postgres".
std::string ProcessName(pid_t pid);

// Real uid of a live process (the Uid: line of /proc/PID/status).
std::optional<uid_t> ProcessUid(pid_t pid);

// CPU time (user + system) the process has used so far, in seconds (fields
// 14 and 15 of /proc/PID/stat); negative when it cannot be read.
double ProcessCpuSeconds(pid_t pid);

// CPU time (user + system, seconds) of a process and of its children it
// has reaped (fields 16 and 17 of /proc/PID/stat: a child's time reaches
// its parent only once the parent waits for it). Negative when unreadable.
struct CpuTimes {
  double self_s = -1;
  double reaped_children_s = -1;
};
CpuTimes ProcessCpuTimes(pid_t pid);

// The pids whose parent is `pid` (field 4 of /proc/PID/stat), now.
std::vector<pid_t> ChildPids(pid_t pid);

// CPU seconds used so far by a server that forks a process per connection
// or task and reaps them (Postgres's postmaster): its own time, its reaped
// children's, and that of each live child. A backend that exited but is not
// reaped yet is missed, so read it a moment after the work ended. Negative
// when `pid` cannot be read.
double ProcessTreeCpuSeconds(pid_t pid);

// True when `pid` is alive and each of `args` is one of its argv elements
// (e.g. {"broker", "serve", "/state/broker"}): the process we started, not
// a stranger that inherited its pid.
bool ProcessMatches(pid_t pid, const std::vector<std::string>& args);

}  // namespace dw::env
