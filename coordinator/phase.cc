// A phase of the protocol: one call per involved member, in parallel.
//
// Two ways to run it:
//   on this thread  when every member but at most one can start its call
//                   (Participant::CallsStartable: the request is sent and the
//                   answer read later) and that one bounds its own call
//                   (CallsBounded): the started requests go out first, the
//                   other call runs here while they travel, then their
//                   answers are read. Parallel, with no thread hand-off: a
//                   2PC order's two phases cost two wake-ups fewer each
//                   than through the pool, on two shared cores a large
//                   share of the coordinator's CPU per order.
//   through the pool  otherwise, and whenever a step hook is set (crash
//                   points must fire at the FIRST answer while the other
//                   calls may still be in flight; read in a fixed order here,
//                   an answer would be seen only after the call run here).
//                   CallPool::Fanout, one self-bounded call on this thread.
// Either way every call ends by its deadline: the pool abandons a late
// call, a self-bounded one ends itself.
#include <string>

#include "coordinator/coordinator.h"
#include "coordinator/gid.h"

namespace dw::coord {
namespace {

// "prepare", or "prepare dw:c1:5.1" when the branch name differs from the gid.
std::string Verb(const char* verb, const std::string& branch, const std::string& gid) {
  return branch == gid ? verb : std::string(verb) + " " + branch;
}

std::string VoteText(const Status& s) {
  if (s.ok()) return "vote commit";
  if (s.IsAborted()) return "vote abort: " + s.message();
  return "no vote: " + s.ToString();
}

const char* const kVerb[] = {"prepare", "commit", "abort"};

// The answer of a branch call as the coordinator reads it, traced.
template <class Op>
Status Settle(Op op, Participant* p, Status st, Trace* tr, const std::string& gid) {
  // Commit's NotFound: the member holds no such prepared gid any more; it
  // was committed (an earlier attempt whose answer was lost, or recovery).
  if (op == Op::kCommit && st.IsNotFound()) st = Status::OK();
  if (tr) {
    tr->Reply(gid, p->name(),
              op == Op::kPrepare  ? VoteText(st)
              : !st.ok()          ? st.ToString()
              : op == Op::kCommit ? "committed"
                                  : "aborted");
  }
  return st;
}

// Starts `op` on branch `b` of participant p (`w`: the prepare's work), traced.
template <class Op>
std::unique_ptr<StartedCall> StartBranch(Op op, Participant* p, const std::string& b, const Work* w,
                                         Trace* tr, const std::string& gid) {
  if (tr) tr->Send(gid, p->name(), Verb(kVerb[static_cast<int>(op)], b, gid));
  switch (op) {
    case Op::kPrepare:
      return p->StartPrepare(b, *w);
    case Op::kCommit:
      return p->StartCommit(b);
    case Op::kAbort:
      return p->StartAbort(b);
  }
  return nullptr;
}

}  // namespace

std::optional<size_t> Coordinator::RunHere(const std::vector<size_t>& which) const {
  if (opts_.on_step) return std::nullopt;  // see the top of this file
  for (size_t k = which.size(); k-- > 0;) {
    if (members_[which[k]].participant->CallsBounded()) return k;
  }
  return std::nullopt;
}

std::vector<std::function<Status()>> Coordinator::BranchCalls(
    BranchOp op, const std::string& gid, const std::vector<size_t>& which,
    const std::vector<Work>& works) const {
  Trace* tr = opts_.trace;
  std::vector<std::function<Status()>> calls;
  calls.reserve(which.size());
  for (size_t i : which) {
    // The calls copy what they need: one that misses the deadline runs on
    // after its caller returned.
    Work w = op == BranchOp::kPrepare ? works[i] : Work{};
    calls.push_back([op, p = members_[i].participant, b = BranchGid(gid, members_[i].branch),
                     w = std::move(w), tr, gid] {
      if (tr) tr->Send(gid, p->name(), Verb(kVerb[static_cast<int>(op)], b, gid));
      Status st;
      switch (op) {
        case BranchOp::kPrepare:
          st = p->Prepare(b, w);
          break;
        case BranchOp::kCommit:
          st = p->Commit(b);
          break;
        case BranchOp::kAbort:
          st = p->Abort(b);
          break;
      }
      return Settle(op, p.get(), std::move(st), tr, gid);
    });
  }
  return calls;
}

std::vector<Status> Coordinator::Phase(
    BranchOp op, const std::string& gid, const std::vector<size_t>& which,
    const std::vector<Work>& works, const std::function<void(size_t, const Status&)>& on_result) {
  std::optional<size_t> here;  // the one call made here, blocking
  bool on_this_thread = !opts_.on_step;
  for (size_t k = 0; k < which.size() && on_this_thread; ++k) {
    const Participant& p = *members_[which[k]].participant;
    if (p.CallsStartable()) continue;
    if (here || !p.CallsBounded()) on_this_thread = false;
    here = k;
  }
  // When every call could be started, the first bounded one is still made
  // here: one call waits on this thread anyway, and a blocking call costs
  // less than its started form (Postgres's goes through libpqxx's pipeline,
  // one statement more for the server; measured slower at C=16).
  for (size_t k = 0; k < which.size() && on_this_thread && !here; ++k) {
    if (members_[which[k]].participant->CallsBounded()) here = k;
  }
  if (!on_this_thread) {
    return pool_.Fanout(BranchCalls(op, gid, which, works),
                        std::chrono::steady_clock::now() + opts_.call_timeout, on_result,
                        RunHere(which));
  }
  Trace* tr = opts_.trace;
  std::vector<std::unique_ptr<StartedCall>> started(which.size());
  for (size_t k = 0; k < which.size(); ++k) {
    if (here && k == *here) continue;
    const Member& m = members_[which[k]];
    started[k] = StartBranch(op, m.participant.get(), BranchGid(gid, m.branch),
                             op == BranchOp::kPrepare ? &works[which[k]] : nullptr, tr, gid);
  }
  std::vector<Status> out(which.size());
  if (here) {
    out[*here] = BranchCalls(op, gid, {which[*here]}, works)[0]();
    if (on_result) on_result(*here, out[*here]);
  }
  for (size_t k = 0; k < which.size(); ++k) {
    if (here && k == *here) continue;
    if (!started[k]) {
      // CallsStartable said yes and Start said no: the blocking call, late
      // but correct (this never happens with the participants here).
      out[k] = BranchCalls(op, gid, {which[k]}, works)[0]();
      if (on_result) on_result(k, out[k]);
      continue;
    }
    out[k] = Settle(op, members_[which[k]].participant.get(), started[k]->Finish(), tr, gid);
    if (on_result) on_result(k, out[k]);
  }
  return out;
}

// Every call started before any answer is read, then the answers in order
// (ExecuteBatch, batch.cc). No call runs here while the others travel, as
// Phase's can: lockstep is only used when every member starts its calls.
// A member that takes several branches in one request (StartPrepareMany,
// StartCommitMany: the broker) gets its prepares and commits so: one request,
// one answer and one durable write at that member for the whole batch,
// where one each would cost it and this thread a system call, a wake-up and
// a share of a sync per transaction. Aborts stay one by one (rare).
std::vector<Status> Coordinator::PhaseMany(BranchOp op, const std::vector<BranchRef>& calls) {
  Trace* tr = opts_.trace;
  std::vector<std::unique_ptr<StartedCall>> started(calls.size());
  std::vector<bool> sent(calls.size());
  for (size_t m = 0; m < members_.size() && op != BranchOp::kAbort; ++m) {
    std::vector<size_t> mine;
    for (size_t k = 0; k < calls.size(); ++k) {
      if (calls[k].member == m) mine.push_back(k);
    }
    if (mine.size() < 2) continue;
    Participant* p = members_[m].participant.get();
    std::vector<std::string> branches;
    std::vector<const Work*> works;
    for (size_t k : mine) {
      branches.push_back(BranchGid(*calls[k].gid, members_[m].branch));
      if (op == BranchOp::kPrepare) works.push_back(&(*calls[k].works)[m]);
    }
    std::vector<std::unique_ptr<StartedCall>> together = op == BranchOp::kPrepare
                                                             ? p->StartPrepareMany(branches, works)
                                                             : p->StartCommitMany(branches);
    if (together.size() != mine.size()) continue;  // not supported: one by one below
    for (size_t j = 0; j < mine.size(); ++j) {
      if (!together[j]) continue;  // that one alone: started or made blocking below
      const std::string& gid = *calls[mine[j]].gid;
      if (tr) {
        tr->Send(gid, p->name(),
                 Verb(kVerb[static_cast<int>(op)], branches[j], gid) + " (one request for " +
                     std::to_string(mine.size()) + ")");
      }
      started[mine[j]] = std::move(together[j]);
      sent[mine[j]] = true;
    }
  }
  for (size_t k = 0; k < calls.size(); ++k) {
    if (sent[k]) continue;
    const BranchRef& c = calls[k];
    const Member& m = members_[c.member];
    started[k] =
        StartBranch(op, m.participant.get(), BranchGid(*c.gid, m.branch),
                    op == BranchOp::kPrepare ? &(*c.works)[c.member] : nullptr, tr, *c.gid);
  }
  std::vector<Status> out(calls.size());
  for (size_t k = 0; k < calls.size(); ++k) {
    const BranchRef& c = calls[k];
    Participant* p = members_[c.member].participant.get();
    Status st;
    if (started[k]) {
      st = started[k]->Finish();
    } else {
      // This call could not be started (a work the participant's started
      // form cannot carry): the blocking call, now.
      const std::string b = BranchGid(*c.gid, members_[c.member].branch);
      st = op == BranchOp::kPrepare  ? p->Prepare(b, (*c.works)[c.member])
           : op == BranchOp::kCommit ? p->Commit(b)
                                     : p->Abort(b);
    }
    out[k] = Settle(op, p, std::move(st), tr, *c.gid);
  }
  return out;
}

}  // namespace dw::coord
