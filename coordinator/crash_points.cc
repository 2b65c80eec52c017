#include "coordinator/crash_points.h"

#include "common/enum_names.h"

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

std::optional<Step> ParseStep(std::string_view name) { return ParseEnumName(name, kAll, StepName); }

std::string StepNames() { return JoinEnumNames(kAll, StepName); }

void CrashNow(Step s, const std::string& gid) {
  CrashExit("crash point " + std::string(StepName(s)), gid);
}

}  // namespace dw::coord
