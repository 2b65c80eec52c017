// Crash points of the three-phase-commit coordinator: `--crash-at STEP`
// makes the process die abruptly (_exit, no destructors) the first time a
// transaction reaches STEP (with `--crash-after N`: once N transactions have
// finished), with the exit code of every crash point
// (common/crash_exit.h) so a test can tell it from an error. What each leaves behind, and what the
// participants' termination protocol then decides (threepc/state.h):
//   after-cancommit       every participant prepared (uncertain), no
//                         PreCommit sent: termination aborts
//   after-precommit-some  one participant precommitted, the others
//                         uncertain: termination commits (it sees the
//                         precommitted one) unless a partition hides it
//   after-precommit-all   every participant precommitted: termination commits
//   after-docommit-some   one participant committed, the others
//                         precommitted: termination commits
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dw::threepc {

enum class Step { kAfterCanCommit, kAfterPrecommitSome, kAfterPrecommitAll, kAfterDoCommitSome };

const char* StepName(Step s);
std::optional<Step> ParseStep(std::string_view name);
std::string StepNames();  // "after-cancommit|after-precommit-some|..."

// Writes one line to stderr and _exit()s with kCrashExitCode (dw::CrashExit,
// common/crash_exit.h).
[[noreturn]] void CrashNow(Step s, const std::string& gid);

}  // namespace dw::threepc
