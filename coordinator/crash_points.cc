#include "coordinator/crash_points.h"

#include <unistd.h>

namespace dw::coord {
namespace {

constexpr Step kAll[] = {Step::kBeforePrepare, Step::kAfterPrepareOne, Step::kAfterPrepareAll,
                         Step::kAfterDecision, Step::kAfterCommitOne};

}  // namespace

const char* StepName(Step s) {
  switch (s) {
    case Step::kBeforePrepare:
      return "before-prepare";
    case Step::kAfterPrepareOne:
      return "after-prepare-one";
    case Step::kAfterPrepareAll:
      return "after-prepare-all";
    case Step::kAfterDecision:
      return "after-decision";
    case Step::kAfterCommitOne:
      return "after-commit-one";
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

void CrashPoint::Reached(Step s, const std::string& gid, int64_t completed) const {
  if (s == at_ && completed >= after_) CrashNow(s, gid);
}

void CrashNow(Step s, const std::string& gid) {
  std::string line = "dualwrite: crash point " + std::string(StepName(s)) + " reached in " + gid +
                     ": exiting with code " + std::to_string(kCrashExitCode) + "\n";
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
  ::_exit(kCrashExitCode);
}

}  // namespace dw::coord
