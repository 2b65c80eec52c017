#include "threepc/crash_points.h"

#include <unistd.h>

#include "coordinator/crash_points.h"

namespace dw::threepc {
namespace {
constexpr Step kAll[] = {Step::kAfterCanCommit, Step::kAfterPrecommitSome, Step::kAfterPrecommitAll,
                         Step::kAfterDoCommitSome};
}  // namespace

const char* StepName(Step s) {
  switch (s) {
    case Step::kAfterCanCommit:
      return "after-cancommit";
    case Step::kAfterPrecommitSome:
      return "after-precommit-some";
    case Step::kAfterPrecommitAll:
      return "after-precommit-all";
    case Step::kAfterDoCommitSome:
      return "after-docommit-some";
  }
  return "?";
}

std::optional<Step> ParseStep(std::string_view name) {
  for (Step s : kAll) {
    if (name == StepName(s)) return s;
  }
  return std::nullopt;
}

std::string StepNames() {
  std::string out;
  for (Step s : kAll) {
    if (!out.empty()) out += '|';
    out += StepName(s);
  }
  return out;
}

void CrashNow(Step s, const std::string& gid) {
  std::string line = "dualwrite: 3pc crash point " + std::string(StepName(s)) + " reached in " +
                     gid + ": exiting with code " + std::to_string(coord::kCrashExitCode) + "\n";
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
  ::_exit(coord::kCrashExitCode);
}

}  // namespace dw::threepc
