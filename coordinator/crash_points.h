// The protocol steps a transaction passes, and crash points on them.
//
// `--crash-at STEP` makes the process die abruptly (_exit, no destructors,
// no flush, no END records) the first time a transaction reaches STEP, so
// real in-doubt state is left behind for recovery to find:
//   before-prepare      gid assigned, nothing sent: nothing in doubt
//   after-prepare-one   one participant voted commit (others may be mid-prepare)
//   after-prepare-all   all voted commit, no decision: recovery aborts
//   after-decision      COMMIT durable (with --lrco: the one-phase commit
//                       done), no phase-2 message sent: recovery commits
//   after-commit-one    one participant committed, the others still prepared
// With --crash-after N the point is armed only once N transactions have
// completed, so the run leaves committed history too.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/crash_exit.h"

// Armed by `--crash-after N` through dw::ArmedCrash<Step> (common/armed_crash.h).

namespace dw::coord {

enum class Step {
  kBeforePrepare,
  kAfterPrepareOne,
  kAfterPrepareAll,
  kAfterDecision,
  kAfterCommitOne
};

const char* StepName(Step s);
std::optional<Step> ParseStep(std::string_view name);
// "before-prepare|after-prepare-one|..." for help texts and errors.
std::string StepNames();

// The exit code of a crash point, so a test can tell it from an error
// (every crash point's: common/crash_exit.h).
inline constexpr int kCrashExitCode = dw::kCrashExitCode;

// Writes one line to stderr and _exit()s (dw::CrashExit).
[[noreturn]] void CrashNow(Step s, const std::string& gid);

}  // namespace dw::coord
