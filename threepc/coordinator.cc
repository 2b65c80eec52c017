#include "threepc/coordinator.h"

namespace dw::threepc {
namespace {

// Rolls back every member's branch and notes it. Errors are left to
// termination: an abort nobody heard is still what the rule will say for a
// transaction no member precommitted.
void AbortAll(const std::vector<Member>& members) {
  for (const auto& m : members) {
    // An abort left unrecorded is harmless: with no precommit, the rule says abort.
    if (m.participant->Abort(m.branch).ok()) (void)m.state->RecordOutcome(m.branch, false);
  }
}

// Commits one member's branch and notes it.
Status CommitOne(const Member& m) {
  Status s = m.participant->Commit(m.branch);
  // NotFound: already resolved, and a precommitted branch is resolved only
  // by commit (participant_state.h).
  if (!s.ok() && !s.IsNotFound()) return s;
  return m.state->RecordOutcome(m.branch, true);
}

}  // namespace

void Coordinator::Reached(Step s, const std::string& gid) const {
  if (crash_.Due(s)) CrashNow(s, gid);
}

Status Coordinator::Execute(const std::string& gid, const std::vector<Member>& members) const {
  Status s = Run(gid, members);
  crash_.Finished();
  return s;
}

Status Coordinator::Run(const std::string& gid, const std::vector<Member>& members) const {
  // 1. CanCommit.
  for (const auto& m : members) {
    Status s = m.participant->Prepare(m.branch, m.work);
    if (!s.ok()) {
      AbortAll(members);
      return Status::Aborted(gid + ": " + m.participant->name() + " voted no: " + s.ToString());
    }
  }
  Reached(Step::kAfterCanCommit, gid);

  // 2. PreCommit: every acknowledgement before any DoCommit.
  for (size_t i = 0; i < members.size(); ++i) {
    Status s = members[i].state->Precommit(members[i].branch);
    if (!s.ok()) {
      return Status::InDoubt(gid + ": precommit at " + members[i].participant->name() +
                             " unanswered: " + s.ToString());
    }
    if (i + 1 < members.size()) Reached(Step::kAfterPrecommitSome, gid);
  }
  Reached(Step::kAfterPrecommitAll, gid);

  // 3. DoCommit.
  for (size_t i = 0; i < members.size(); ++i) {
    Status s = CommitOne(members[i]);
    if (!s.ok()) {
      return Status::InDoubt(gid + ": commit at " + members[i].participant->name() +
                             " unanswered: " + s.ToString());
    }
    if (i + 1 < members.size()) Reached(Step::kAfterDoCommitSome, gid);
  }
  return Status::OK();
}

Status Terminate(const std::vector<Member>& reachable, TerminationReport* report) {
  *report = TerminationReport();
  for (const auto& m : reachable) {
    State st;
    Status s = m.state->Read(m.branch, &st);
    if (!s.ok()) return s;
    report->states.push_back(st);
  }
  report->decision = TerminationDecision(report->states);
  for (size_t i = 0; i < reachable.size(); ++i) {
    const Member& m = reachable[i];
    const State st = report->states[i];
    Status s;
    if (report->decision == Decision::kCommit) {
      if (st == State::kPrecommitted || st == State::kUncertain) s = CommitOne(m);
    } else if (report->decision == Decision::kAbort) {
      // Unknown too: a prepare still on its way must find its branch refused
      // (the broker remembers an abort of a gid it never saw). Precommitted
      // too: the rule says abort next to a precommitted member only when
      // another member aborted already (it terminated without this one), and
      // this one follows. The outcome is recorded before the rollback, as the
      // agents do: a Postgres branch reads "aborted" from then on, even while
      // still prepared (participant_state.h), so a late PreCommit is refused.
      if (st == State::kUncertain || st == State::kUnknown || st == State::kPrecommitted) {
        s = m.state->RecordOutcome(m.branch, false);
        if (s.ok()) s = m.participant->Abort(m.branch);
      }
    }
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace dw::threepc
