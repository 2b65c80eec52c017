// AgentClient: the HTTP client of one participant agent (routes:
// threepc/agent_api.h), over the project's one HTTP transport
// (broker/http_transport.h: deadline per request, keep-alive pool, and its
// meaning of a transport failure: Unavailable = nothing reached the agent,
// Timeout / InDoubt = it may have acted). Thread-safe.
//
// Two users:
//   - the coordinator (`dualwrite 3pc run`) drives each agent as a member of
//     threepc::Coordinator: AgentParticipant (CanCommit = Prepare, DoCommit =
//     Commit, Abort) and AgentParticipantState (PreCommit, the state);
//   - the agents reach each other for the termination protocol through
//     HttpPeerLink (threepc/agent.h's PeerLink).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/http_transport.h"
#include "common/status.h"
#include "participants/participant.h"
#include "threepc/agent.h"
#include "threepc/agent_api.h"
#include "threepc/participant_state.h"
#include "threepc/state.h"

namespace dw::threepc {

class AgentClient {
 public:
  // InvalidArgument for a bad URL.
  static Status Create(const std::string& url, std::chrono::milliseconds timeout,
                       std::unique_ptr<AgentClient>* out);

  // One call. OK for a 2xx reply (body in *reply_body, may be null); the
  // reply's HTTP status read by api::StatusOfReply otherwise; transport
  // failures as above. *http_status (may be null): the reply's status, 0
  // when none arrived.
  Status Call(api::Route route, const std::string& gid, const std::string& body,
              std::string* reply_body = nullptr, bool termination = false,
              int* http_status = nullptr);
  // POST .../freeze or GET the state: the "state" of the reply.
  Status ReadState(const std::string& gid, bool freeze, State* out);
  // GET /healthz: the agent's "participant" and "undecided".
  Status Health(std::string* participant, int64_t* undecided);

  const std::string& url() const { return url_; }

 private:
  AgentClient(std::string url, std::unique_ptr<broker::HttpTransport> t)
      : url_(std::move(url)), transport_(std::move(t)) {}
  std::string url_;
  std::unique_ptr<broker::HttpTransport> transport_;
};

// "id=host:port,id=http://host:port,..." -> id -> URL (http:// added when
// missing). InvalidArgument naming `what` for a malformed list, a repeated
// id or an id outside 1..1000.
Status ParseAgentList(const std::string& text, const std::string& what,
                      std::map<int, std::string>* out);

class HttpPeerLink : public PeerLink {
 public:
  // One client per peer (id -> URL).
  static Status Create(const std::map<int, std::string>& peers, std::chrono::milliseconds timeout,
                       std::unique_ptr<HttpPeerLink>* out);
  Status Freeze(int peer, const std::string& gid, State* out) override;
  Status Decide(int peer, const std::string& gid, Decision d) override;
  // OK once the peer answered anything (it owns the gid's termination now);
  // not OK only when nothing reached it.
  Status AskToTerminate(int peer, const std::string& gid) override;

 private:
  AgentClient* Of(int peer);
  std::map<int, std::unique_ptr<AgentClient>> clients_;
};

// An agent as a member of threepc::Coordinator: the whole Work goes to
// every agent, each takes its part.
class AgentParticipant : public Participant {
 public:
  AgentParticipant(std::shared_ptr<AgentClient> client, std::string name)
      : client_(std::move(client)), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  Status Prepare(const std::string& gid, const Work& work) override;
  Status Commit(const std::string& gid) override;
  Status Abort(const std::string& gid) override;
  bool CallsBounded() const override { return true; }  // the transport's deadline
  // Agents decide their in-doubt gids themselves: nothing to list here.
  Status ListInDoubt(const std::string&, std::vector<InDoubtTxn>* out) override {
    out->clear();
    return Status::OK();
  }

 private:
  std::shared_ptr<AgentClient> client_;
  std::string name_;
};

class AgentParticipantState : public ParticipantState {
 public:
  explicit AgentParticipantState(std::shared_ptr<AgentClient> client)
      : client_(std::move(client)) {}
  Status Precommit(const std::string& gid) override;
  // The agent notes the outcome itself when it commits or aborts.
  Status RecordOutcome(const std::string&, bool) override { return Status::OK(); }
  Status Read(const std::string& gid, State* out) override;

 private:
  std::shared_ptr<AgentClient> client_;
};

}  // namespace dw::threepc
