#include "threepc/state.h"

#include <algorithm>

#include "common/enum_names.h"

namespace dw::threepc {

namespace {
constexpr State kAllStates[] = {State::kUnknown, State::kUncertain, State::kPrecommitted,
                                State::kCommitted, State::kAborted};
}  // namespace

const char* StateName(State s) {
  switch (s) {
    case State::kUnknown:
      return "unknown";
    case State::kUncertain:
      return "uncertain";
    case State::kPrecommitted:
      return "precommitted";
    case State::kCommitted:
      return "committed";
    case State::kAborted:
      return "aborted";
  }
  return "unknown";
}

std::optional<State> ParseState(std::string_view name) {
  return ParseEnumName(name, kAllStates, StateName);
}

const char* DecisionName(Decision d) {
  switch (d) {
    case Decision::kNone:
      return "none";
    case Decision::kCommit:
      return "commit";
    case Decision::kAbort:
      return "abort";
  }
  return "none";
}

Decision TerminationDecision(const std::vector<State>& reachable) {
  if (reachable.empty()) return Decision::kNone;
  auto any = [&](State s) {
    return std::find(reachable.begin(), reachable.end(), s) != reachable.end();
  };
  if (any(State::kCommitted)) return Decision::kCommit;
  if (any(State::kAborted)) return Decision::kAbort;
  if (any(State::kPrecommitted)) return Decision::kCommit;
  return Decision::kAbort;  // every reachable one uncertain or unknown
}

}  // namespace dw::threepc
