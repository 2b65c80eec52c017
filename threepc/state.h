// Three-phase commit (Skeen, "Nonblocking Commit Protocols", SIGMOD 1981):
// the states a participant passes, and the termination rule the surviving
// participants apply when the coordinator goes silent.
//
//   unknown       nothing prepared for the gid here (never reached, or
//                 resolved and forgotten by a participant that keeps no
//                 outcome, like the broker after COMMIT)
//   uncertain     CanCommit answered yes: the work is durably prepared
//                 (PREPARE TRANSACTION, the broker's prepare) and the
//                 participant does not know whether the others voted yes
//   precommitted  PreCommit arrived: every participant voted yes, and this
//                 one holds that fact durably next to the prepared work
//   committed     DoCommit (or a termination decision) was applied
//   aborted       the participant rolled back
//
// Why the extra phase removes 2PC's blocking. In 2PC a participant that
// voted yes cannot tell "the coordinator decided commit and told someone"
// from "nobody decided yet": only the coordinator's log knows, so it waits
// for the coordinator. 3PC adds the invariant that NO participant is
// committed while any participant is still uncertain: the coordinator sends
// DoCommit only after every participant acknowledged PreCommit, and it sends
// PreCommit only after every yes vote. So the states that can coexist are
// {unknown, uncertain, aborted}, {uncertain, precommitted}, and
// {precommitted, committed}. Skeen's rule, applied by a recovery coordinator
// to the states it can REACH:
//   any committed                  -> commit
//   any aborted                    -> abort
//   any precommitted               -> commit (all voted yes: commit is safe,
//                                     and nobody can have aborted)
//   every reachable one uncertain
//   or unknown                     -> abort (nobody can have committed: a
//                                     commit needs every participant
//                                     precommitted first)
// One more pair appears when a member CRASHES precommitted: the others,
// every one uncertain, abort without it (the last line), and it comes back
// {precommitted, aborted}. "any aborted" is checked first, so it learns
// abort; that is why a restarted agent decides only once it reaches every
// peer (threepc/agent.h).
// The last line is the one that fails under a partition. It is only sound
// if "unreachable" means "crashed", i.e. a synchronous network. When the
// network splits after PreCommit reached one side only, that side (with the
// coordinator, or its own recovery coordinator) sees "precommitted" and
// commits, while the other side sees only "uncertain" and aborts: one
// participant commits, the other aborts, and atomicity is gone. 2PC blocks
// in that situation instead, and stays safe. That trade is the lesson.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace dw::threepc {

enum class State { kUnknown, kUncertain, kPrecommitted, kCommitted, kAborted };

const char* StateName(State s);  // "unknown", "uncertain", ...
std::optional<State> ParseState(std::string_view name);

enum class Decision { kNone, kCommit, kAbort };

const char* DecisionName(Decision d);  // "none", "commit", "abort"

// Skeen's termination rule over the states a recovery coordinator reached
// (see above). kNone when it reached nobody. A committed and an aborted
// state side by side is already the violation the rule exists to prevent
// (only a partition produces it): the rule then answers the first one it
// checks, commit, which finishes the committed side's work and leaves the
// aborted one as it is.
Decision TerminationDecision(const std::vector<State>& reachable);

}  // namespace dw::threepc
