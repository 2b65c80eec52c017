// Crash points: the abrupt death a `--crash-at STEP` flag asks for. The 2PC
// coordinator (coordinator/crash_points.h) and the 3PC coordinator
// (threepc/crash_points.h) name different steps, and die the same way: one
// line on stderr, then _exit() with one exit code, so a test can tell a
// crash point from an error and real in-doubt state is left behind (no
// destructors, no flush, no END records).
#pragma once

#include <string>

namespace dw {

// The exit code of every crash point.
inline constexpr int kCrashExitCode = 3;

// Writes "dualwrite: <what> reached in <gid>: exiting with code 3" to stderr
// with one write(2) (async-signal-safe) and _exit()s with kCrashExitCode.
// `what` names the point, e.g. "crash point after-decision".
[[noreturn]] void CrashExit(const std::string& what, const std::string& gid);

}  // namespace dw
