// Agent: one participant's side of three-phase commit, as a server would
// run it (`dualwrite 3pc agent`), free of sockets so tests can drive it: one
// request in, one reply out (routes: threepc/agent_api.h), plus Tick(), the
// timer of the termination protocol.
//
// The agent holds nothing of its own that matters: the work is prepared at
// its participant (Postgres, the broker) and its 3PC state is the
// participant's durable state (threepc/participant_state.h). What it keeps
// in memory is only which gids are undecided here and when the coordinator
// last spoke about each; an agent started again reads the undecided gids
// back (Adopt) and times them from its start.
//
// Termination (Skeen). A gid that is uncertain or precommitted here and has
// heard nothing from the coordinator for `timeout` is finished without the
// coordinator and without anybody running `recover`:
//   1. Election: the recovery coordinator is the lowest agent id reachable.
//      This agent asks its peers with a lower id, lowest first, to
//      terminate the gid (POST .../terminate); when none of them answers,
//      it is the lowest reachable and terminates the gid itself.
//   2. The recovery coordinator freezes the gid at itself and at every peer
//      it reaches (POST .../freeze: from then on they refuse the old
//      coordinator's calls for it, so its late PreCommit or DoCommit cannot
//      slip in between the states read and the decision applied), collecting
//      their states.
//   3. It applies Skeen's rule (threepc::TerminationDecision) to the states
//      it reached, and sends the decision to each of them
//      (POST .../docommit|abort?from=termination), itself included.
// A peer that does not answer is left out of the rule: right when it has
// crashed, and the split that loses atomicity when it is only cut off
// (threepc/state.h).
//
// An agent started again (Adopt) finds its undecided gids in its
// participant's durable state, times them from its start, and terminates
// them like any other: it asks the lower ids, or it freezes its peers and
// applies the rule itself. What it must not do is trust its own
// "precommitted" alone: while it was dead, its peers may have terminated
// without it, every one of them uncertain, and aborted. So a restarted
// agent precommitted on a gid decides only once it reaches every peer, and
// their states tell it the outcome: an aborted peer (the broker answers how
// a gid it no longer lists ended: participant_state.h) makes the rule say
// abort, and the precommitted member follows that abort (ApplyLocked). A
// restarted agent that is only uncertain may abort alone: nobody can have
// committed without its PreCommit.
//
// Thread-safe: requests arrive on many threads at once; calls for one gid
// are serialised (the participant sees one operation per gid at a time).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "participants/participant.h"
#include "threepc/participant_state.h"
#include "threepc/state.h"

namespace dw::threepc {

// How an agent reaches the others (threepc/agent_client.h over HTTP).
class PeerLink {
 public:
  virtual ~PeerLink() = default;
  // POST .../freeze at agent `peer`: its state of `gid`.
  virtual Status Freeze(int peer, const std::string& gid, State* out) = 0;
  // POST .../docommit|abort?from=termination at agent `peer`.
  virtual Status Decide(int peer, const std::string& gid, Decision d) = 0;
  // POST .../terminate at agent `peer`: it runs the termination protocol.
  virtual Status AskToTerminate(int peer, const std::string& gid) = 0;
};

struct AgentOptions {
  int id = 1;
  std::string participant_kind = "postgres";  // "postgres" | "broker", for replies and logs
  std::vector<int> peers;                     // the other agents' ids
  std::chrono::milliseconds timeout{2000};    // coordinator silence before termination
  std::string gid_prefix = "dw3:";            // the gids Adopt takes back
};

struct AgentReply {
  int status = 200;
  std::string body;   // JSON
  std::string allow;  // for 405
};

class Agent {
 public:
  // Pointers are not owned and must outlive the agent. `log` gets one line
  // per termination (null: none).
  Agent(Participant* participant, ParticipantState* state, PeerLink* peers, AgentOptions opts,
        std::ostream* log = nullptr);

  // Takes back the gids its participant holds prepared (an agent started
  // again after a crash): they are undecided, timed from now.
  Status Adopt();

  AgentReply Handle(const std::string& method, const std::string& target, const std::string& body);

  // Starts the termination protocol for every gid silent for longer than
  // the timeout (one at a time, on the caller's thread). Call it about four
  // times per timeout.
  void Tick();

  // Runs the termination protocol here, as the recovery coordinator.
  Status Terminate(const std::string& gid, Decision* decision, std::map<int, State>* states,
                   std::vector<int>* unreachable);

  size_t undecided() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::mutex op;  // one participant call per gid at a time
    // The fields below are guarded by the agent's mu_.
    bool undecided = false;  // uncertain or precommitted here
    bool frozen = false;     // a recovery coordinator has it: refuse the coordinator
    bool terminating = false;
    bool recovered = false;   // adopted at start: this agent may have died holding it
    Clock::time_point heard;  // the coordinator's last call
  };

  std::shared_ptr<Entry> EntryOf(const std::string& gid);
  void Heard(const std::shared_ptr<Entry>& e, bool undecided);
  bool Frozen(const std::shared_ptr<Entry>& e) const;
  void Forget(const std::string& gid, const std::shared_ptr<Entry>& e);

  // Drops the entry of a gid nothing is pending for (a read of an unknown gid).
  void DropIfIdle(const std::string& gid, const std::shared_ptr<Entry>& e);

  AgentReply CanCommit(const std::string& gid, const std::string& body);
  AgentReply Precommit(const std::string& gid);
  AgentReply Finish(const std::string& gid, bool commit, bool termination);
  AgentReply ReadState(const std::string& gid, bool freeze);
  AgentReply RunTermination(const std::string& gid);
  AgentReply Healthz() const;

  // With the gid's `op` held. The coordinator's DoCommit: commit, note it.
  Status CommitLocked(const std::string& gid);
  // An abort: refused (FailedPrecondition) once the gid is precommitted or
  // committed here, which only a commit may resolve.
  Status AbortLocked(const std::string& gid);
  // The outcome noted, then the rollback (participant_state.h: the mark
  // goes first). Idempotent.
  Status AbortHereLocked(const std::string& gid);
  // A termination decision, from the gid's state here: commit an uncertain
  // or precommitted gid, abort an uncertain or unknown one.
  Status ApplyLocked(const std::string& gid, Decision d);
  // ApplyLocked with the lock taken, and the gid decided here afterwards.
  Status Apply(const std::string& gid, Decision d);
  // Election, then termination here or at the lowest reachable peer.
  void TimedOut(const std::string& gid);

  Participant* participant_;
  ParticipantState* state_;
  PeerLink* peers_;
  const AgentOptions opts_;
  std::ostream* log_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // guarded by mu_
  std::mutex log_mu_;
};

}  // namespace dw::threepc
