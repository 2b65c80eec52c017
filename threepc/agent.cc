#include "threepc/agent.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "threepc/agent_api.h"

namespace dw::threepc {
namespace {

AgentReply Json(int status, const nlohmann::json& j) { return {status, j.dump(), ""}; }

AgentReply Error(const Status& s) {
  return {api::HttpStatusOf(s), api::ErrorBody(s.ToString()), ""};
}

// Refused while a recovery coordinator holds the gid: its decision, not the
// old coordinator's, finishes it.
AgentReply FrozenReply(const std::string& gid) {
  return Error(Status::Unavailable(gid + " is being terminated: the coordinator is not obeyed"));
}

}  // namespace

Agent::Agent(Participant* participant, ParticipantState* state, PeerLink* peers, AgentOptions opts,
             std::ostream* log)
    : participant_(participant), state_(state), peers_(peers), opts_(std::move(opts)), log_(log) {}

std::shared_ptr<Agent::Entry> Agent::EntryOf(const std::string& gid) {
  std::lock_guard<std::mutex> l(mu_);
  auto& e = entries_[gid];
  if (!e) e = std::make_shared<Entry>();
  return e;
}

void Agent::Heard(const std::shared_ptr<Entry>& e, bool undecided) {
  std::lock_guard<std::mutex> l(mu_);
  e->heard = Clock::now();
  e->undecided = undecided;
}

bool Agent::Frozen(const std::shared_ptr<Entry>& e) const {
  std::lock_guard<std::mutex> l(mu_);
  return e->frozen;
}

void Agent::Forget(const std::string& gid, const std::shared_ptr<Entry>& e) {
  std::lock_guard<std::mutex> l(mu_);
  e->undecided = false;
  // A frozen gid stays known: the old coordinator's late calls are refused.
  auto it = entries_.find(gid);
  if (it != entries_.end() && it->second == e && !e->frozen && !e->terminating) entries_.erase(it);
}

void Agent::DropIfIdle(const std::string& gid, const std::shared_ptr<Entry>& e) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(gid);
  if (it != entries_.end() && it->second == e && !e->undecided && !e->frozen && !e->terminating) {
    entries_.erase(it);
  }
}

size_t Agent::undecided() const {
  std::lock_guard<std::mutex> l(mu_);
  size_t n = 0;
  for (const auto& kv : entries_) n += kv.second->undecided;
  return n;
}

Status Agent::Adopt() {
  std::vector<InDoubtTxn> held;
  Status s = participant_->ListInDoubt(opts_.gid_prefix, &held);
  if (!s.ok()) return s;
  for (const auto& t : held) {
    auto e = EntryOf(t.gid);
    Heard(e, true);
    std::lock_guard<std::mutex> l(mu_);
    e->recovered = true;
  }
  return Status::OK();
}

AgentReply Agent::Handle(const std::string& method, const std::string& target,
                         const std::string& body) {
  const api::Target t = api::ParseTarget(target);
  if (t.route == api::Route::kNone) {
    return {404, api::ErrorBody("no such route: " + target.substr(0, 200)), ""};
  }
  if (method != api::MethodOf(t.route)) {
    return {405, api::ErrorBody("method not allowed"), api::MethodOf(t.route)};
  }
  switch (t.route) {
    case api::Route::kNone:
      break;
    case api::Route::kHealthz:
      return Healthz();
    case api::Route::kState:
      return ReadState(t.gid, false);
    case api::Route::kFreeze:
      return ReadState(t.gid, true);
    case api::Route::kCanCommit:
      return CanCommit(t.gid, body);
    case api::Route::kPrecommit:
      return Precommit(t.gid);
    case api::Route::kDoCommit:
      return Finish(t.gid, true, t.termination);
    case api::Route::kAbort:
      return Finish(t.gid, false, t.termination);
    case api::Route::kTerminate:
      return RunTermination(t.gid);
  }
  return {404, api::ErrorBody("no such route"), ""};
}

AgentReply Agent::Healthz() const {
  return Json(
      200, {{"id", opts_.id}, {"participant", opts_.participant_kind}, {"undecided", undecided()}});
}

AgentReply Agent::CanCommit(const std::string& gid, const std::string& body) {
  Work w;
  if (Status s = api::WorkFromJson(body, &w); !s.ok()) return Error(s);
  auto e = EntryOf(gid);
  std::lock_guard<std::mutex> op(e->op);
  if (Frozen(e)) return FrozenReply(gid);
  Status s = participant_->Prepare(gid, w);
  if (s.ok()) {
    Heard(e, true);
    return Json(200, {{"vote", "yes"}, {"state", StateName(State::kUncertain)}});
  }
  if (s.IsAborted()) {
    Forget(gid, e);  // a no vote: the participant rolled its work back
    return Json(409, {{"vote", "no"}, {"error", s.ToString()}});
  }
  // Any other failure may have left the prepare landed: a timeout, or a
  // connection lost while PREPARE TRANSACTION was being answered (a
  // Postgres crash), after which the prepared transaction survives crash
  // recovery. Time it like a yes vote, so that it is terminated (aborted,
  // every member being uncertain at most) instead of held for good. An
  // abort of a gid that never got prepared is a no-op at either participant.
  Heard(e, true);
  return Error(s);
}

AgentReply Agent::Precommit(const std::string& gid) {
  auto e = EntryOf(gid);
  std::lock_guard<std::mutex> op(e->op);
  if (Frozen(e)) return FrozenReply(gid);
  Status s = state_->Precommit(gid);
  if (!s.ok()) return Error(s);
  Heard(e, true);
  return Json(200, {{"state", StateName(State::kPrecommitted)}});
}

Status Agent::CommitLocked(const std::string& gid) {
  Status s = participant_->Commit(gid);
  // NotFound: resolved before, and a gid that was precommitted is resolved
  // only by commit (participant_state.h).
  if (!s.ok() && !s.IsNotFound()) return s;
  return state_->RecordOutcome(gid, true);
}

Status Agent::AbortLocked(const std::string& gid) {
  State st;
  Status s = state_->Read(gid, &st);
  if (!s.ok()) return s;
  if (st == State::kPrecommitted || st == State::kCommitted) {
    return Status::FailedPrecondition(gid + " is " + StateName(st) + " here: only commit ends it");
  }
  return AbortHereLocked(gid);
}

Status Agent::AbortHereLocked(const std::string& gid) {
  // The outcome first, then the rollback: a Postgres gid reads "aborted"
  // from then on, even while still prepared (participant_state.h), and an
  // agent killed in between finishes the rollback at its next termination.
  // Already aborted: the rollback may be that unfinished one.
  Status s = state_->RecordOutcome(gid, false);
  if (s.ok()) s = participant_->Abort(gid);
  return s;
}

Status Agent::ApplyLocked(const std::string& gid, Decision d) {
  State st;
  Status s = state_->Read(gid, &st);
  if (!s.ok()) return s;
  if (d == Decision::kCommit) {
    if (st == State::kAborted) {
      return Status::FailedPrecondition(gid + " was aborted here: it cannot commit");
    }
    if (st == State::kUncertain || st == State::kPrecommitted) return CommitLocked(gid);
    return Status::OK();  // committed, or resolved and forgotten (the broker)
  }
  if (d == Decision::kAbort) {
    if (st == State::kCommitted) {
      return Status::FailedPrecondition(gid + " is committed here: it cannot abort");
    }
    // Precommitted too: the rule says abort next to a precommitted member
    // only when another member is aborted already, which happens when this
    // agent was dead precommitted while its peers terminated without it
    // (all uncertain: abort). The outcome is fixed; this member follows it.
    // Unknown too: a prepare still on its way must find the gid refused
    // (the broker remembers the abort of a gid it never saw).
    return AbortHereLocked(gid);
  }
  return Status::OK();
}

Status Agent::Apply(const std::string& gid, Decision d) {
  auto e = EntryOf(gid);
  std::lock_guard<std::mutex> op(e->op);
  Status s = ApplyLocked(gid, d);
  if (s.ok()) Forget(gid, e);
  return s;
}

AgentReply Agent::Finish(const std::string& gid, bool commit, bool termination) {
  const State done = commit ? State::kCommitted : State::kAborted;
  if (termination) {
    Status s = Apply(gid, commit ? Decision::kCommit : Decision::kAbort);
    if (!s.ok()) return Error(s);
    return Json(200, {{"state", StateName(done)}});
  }
  auto e = EntryOf(gid);
  std::lock_guard<std::mutex> op(e->op);
  if (Frozen(e)) return FrozenReply(gid);
  Status s = commit ? CommitLocked(gid) : AbortLocked(gid);
  if (!s.ok()) return Error(s);
  Forget(gid, e);
  return Json(200, {{"state", StateName(done)}});
}

AgentReply Agent::ReadState(const std::string& gid, bool freeze) {
  auto e = EntryOf(gid);
  if (freeze) {
    // Frozen first, then the lock: a coordinator call already past its
    // check finishes before the state is read, and no later one starts.
    std::lock_guard<std::mutex> l(mu_);
    e->frozen = true;
  }
  State st;
  Status s;
  {
    std::lock_guard<std::mutex> op(e->op);
    s = state_->Read(gid, &st);
  }
  if (!freeze) DropIfIdle(gid, e);
  if (!s.ok()) return Error(s);
  return Json(200, {{"gid", gid}, {"state", StateName(st)}, {"frozen", Frozen(e)}});
}

Status Agent::Terminate(const std::string& gid, Decision* decision, std::map<int, State>* states,
                        std::vector<int>* unreachable) {
  *decision = Decision::kNone;
  states->clear();
  unreachable->clear();
  auto e = EntryOf(gid);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (e->terminating) return Status::Unavailable("a termination of " + gid + " is running here");
    e->terminating = true;
    e->frozen = true;
  }
  Status result = [&]() -> Status {
    State mine;
    {
      std::lock_guard<std::mutex> op(e->op);
      Status s = state_->Read(gid, &mine);
      if (!s.ok()) return s;
    }
    (*states)[opts_.id] = mine;
    for (int peer : opts_.peers) {
      State st;
      if (peers_->Freeze(peer, gid, &st).ok()) {
        (*states)[peer] = st;
      } else {
        unreachable->push_back(peer);
      }
    }
    bool recovered;
    {
      std::lock_guard<std::mutex> l(mu_);
      recovered = e->recovered;
    }
    if (recovered && mine == State::kPrecommitted && !unreachable->empty()) {
      // This agent died precommitted: its peers may have aborted without it
      // (all of them uncertain), so its own mark is no vote for commit until
      // it reaches them and learns what they did. Tried again one timeout
      // later.
      return Status::Unavailable("restarted precommitted: waiting for every peer");
    }
    std::vector<State> reached;
    for (const auto& kv : *states) reached.push_back(kv.second);
    *decision = TerminationDecision(reached);
    Status s = Apply(gid, *decision);
    if (!s.ok()) return s;
    Status first;
    for (const auto& [id, st] : *states) {
      if (id == opts_.id) continue;
      // Abort reaches a precommitted peer too: one that was dead while the
      // others aborted (ApplyLocked).
      const bool acts =
          *decision == Decision::kCommit
              ? st == State::kUncertain || st == State::kPrecommitted
              : st == State::kUncertain || st == State::kUnknown || st == State::kPrecommitted;
      if (!acts) continue;
      Status d = peers_->Decide(id, gid, *decision);
      if (!d.ok() && first.ok()) first = d;
    }
    return first;
  }();
  {
    std::lock_guard<std::mutex> l(mu_);
    e->terminating = false;
    e->heard = Clock::now();  // a failed termination is tried again one timeout later
  }
  if (log_) {
    std::string line = "3pc agent " + std::to_string(opts_.id) + " (" + opts_.participant_kind +
                       "): terminated " + gid + ":";
    for (const auto& [id, st] : *states) line += " " + std::to_string(id) + "=" + StateName(st);
    for (int id : *unreachable) line += " " + std::to_string(id) + "=unreachable";
    line += std::string(" -> ") + DecisionName(*decision);
    if (!result.ok()) line += " (" + result.ToString() + ")";
    std::lock_guard<std::mutex> l(log_mu_);
    *log_ << line << std::endl;
  }
  return result;
}

AgentReply Agent::RunTermination(const std::string& gid) {
  Decision d;
  std::map<int, State> states;
  std::vector<int> unreachable;
  Status s = Terminate(gid, &d, &states, &unreachable);
  if (!s.ok()) return Error(s);
  nlohmann::json st = nlohmann::json::object();
  for (const auto& [id, state] : states) st[std::to_string(id)] = StateName(state);
  return Json(
      200,
      {{"gid", gid}, {"decision", DecisionName(d)}, {"states", st}, {"unreachable", unreachable}});
}

void Agent::TimedOut(const std::string& gid) {
  std::vector<int> lower;
  for (int p : opts_.peers) {
    if (p < opts_.id) lower.push_back(p);
  }
  std::sort(lower.begin(), lower.end());
  for (int p : lower) {
    // Reached: that agent (or a termination already running there) owns
    // the gid now, and its decision comes back here.
    if (peers_->AskToTerminate(p, gid).ok()) return;
  }
  Decision d;
  std::map<int, State> states;
  std::vector<int> unreachable;
  (void)Terminate(gid, &d, &states,
                  &unreachable);  // logged; retried one timeout later if undecided
}

void Agent::Tick() {
  std::vector<std::string> due;
  {
    std::lock_guard<std::mutex> l(mu_);
    const auto now = Clock::now();
    for (auto& [gid, e] : entries_) {
      if (e->undecided && !e->terminating && now - e->heard > opts_.timeout) {
        due.push_back(gid);
        e->heard = now;  // the next attempt, if this one does not end it, one timeout later
      }
    }
  }
  for (const auto& gid : due) TimedOut(gid);
}

}  // namespace dw::threepc
