// Coordinator: one three-phase-commit transaction over its members, and the
// termination protocol that finishes a transaction without it.
//
// Ordering, and what is durable when (states: threepc/state.h):
//   1. CanCommit. Every member prepares its branch (Postgres: the statements,
//      then PREPARE TRANSACTION; the broker: its prepare), exactly as 2PC's
//      phase 1 (participants/participant.h). A member that answers OK is
//      durably "uncertain". Any other answer: abort every member (none can
//      be precommitted yet, so abort is what termination would decide too)
//      and answer Aborted.
//   2. PreCommit, only after EVERY yes vote. Each member's state gets its
//      durable "precommitted" mark (threepc/participant_state.h) before the
//      call returns. The coordinator waits for every acknowledgement.
//   3. DoCommit, only after EVERY PreCommit acknowledgement: commit each
//      branch, then note the outcome.
// The coordinator logs nothing at all. Its decision is implied by the
// members' states: "some member precommitted" is exactly "every member voted
// yes", which is what a 2PC decision record says. So a coordinator that dies
// at any point leaves nothing a human must resolve; Terminate() (run by the
// members' agents, or by the coordinator's own recovery) decides from the
// states alone, by Skeen's rule.
//
// Why step 3 waits for every acknowledgement of step 2: the rule's abort
// branch ("every reachable member uncertain -> abort") is safe only if no
// member can be committed while another is uncertain. Committing after a
// partial PreCommit would break that even without any network fault.
//
// What remains unsafe is a partition, not a crash: after a partial PreCommit
// the precommitted side terminates with "commit" and the uncertain side,
// which cannot tell "the coordinator and the others are dead" from "they
// are behind a partition", terminates with "abort". Terminate() is correct
// for the members it is given; it cannot know about the ones it was not
// given. tests/threepc_test.cc reproduces both.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/armed_crash.h"
#include "common/status.h"
#include "participants/participant.h"
#include "threepc/crash_points.h"
#include "threepc/participant_state.h"
#include "threepc/state.h"

namespace dw::threepc {

struct Member {
  Participant* participant = nullptr;  // prepares, commits, aborts the work
  ParticipantState* state = nullptr;   // its durable 3PC state
  std::string branch;                  // the name it prepares under (coord::BranchGid)
  Work work;                           // its part of the transaction
};

class Coordinator {
 public:
  // `crash_at`: die at that step of the first transaction reaching it once
  // `crash_after` transactions have finished (whatever their outcome), so a
  // crash can leave committed history behind it.
  explicit Coordinator(std::optional<Step> crash_at = std::nullopt, int64_t crash_after = 0)
      : crash_(crash_at, crash_after) {}

  // Runs the three phases. OK: committed at every member. Aborted: a member
  // voted no (every member was told to abort). InDoubt: a PreCommit or a
  // DoCommit went unanswered after every yes vote: the transaction will
  // commit, and Terminate() finishes it at the members that lag.
  // `gid` only names the transaction in messages and crash lines.
  Status Execute(const std::string& gid, const std::vector<Member>& members) const;

 private:
  void Reached(Step s, const std::string& gid) const;
  Status Run(const std::string& gid, const std::vector<Member>& members) const;
  // Armed by the transactions Execute returned from; Execute is const and
  // runs on every load worker at once.
  const ArmedCrash<Step> crash_;
};

struct TerminationReport {
  Decision decision = Decision::kNone;
  std::vector<State> states;  // what each reachable member said, in order
};

// The termination protocol's recovery coordinator, over the members it can
// reach: reads each one's durable state, applies Skeen's rule, and carries
// the decision out at each of them (commit or abort, then the outcome
// note). Idempotent. An error reading or applying at a member is returned
// (the decision stays what the rule said: running it again completes it).
Status Terminate(const std::vector<Member>& reachable, TerminationReport* report);

}  // namespace dw::threepc
