#include "threepc/crash_points.h"

#include "common/crash_exit.h"
#include "common/enum_names.h"

namespace dw::threepc {
namespace {
constexpr Step kAllSteps[] = {Step::kAfterCanCommit, Step::kAfterPrecommitSome,
                              Step::kAfterPrecommitAll, Step::kAfterDoCommitSome};
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
  return ParseEnumName(name, kAllSteps, StepName);
}

std::string StepNames() { return JoinEnumNames(kAllSteps, StepName); }

void CrashNow(Step s, const std::string& gid) {
  CrashExit("3pc crash point " + std::string(StepName(s)), gid);
}

}  // namespace dw::threepc
