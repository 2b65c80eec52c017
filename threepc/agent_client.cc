#include "threepc/agent_client.h"

#include <cstdlib>
#include <optional>

#include <nlohmann/json.hpp>

namespace dw::threepc {

Status AgentClient::Create(const std::string& url, std::chrono::milliseconds timeout,
                           std::unique_ptr<AgentClient>* out) {
  broker::HttpTransport::Options o;
  o.url = url;
  o.timeout = timeout;
  std::unique_ptr<broker::HttpTransport> t;
  Status s = broker::HttpTransport::Create(o, &t);
  if (!s.ok()) return s;
  out->reset(new AgentClient(url, std::move(t)));
  return Status::OK();
}

Status AgentClient::Call(api::Route route, const std::string& gid, const std::string& body,
                         std::string* reply_body, bool termination, int* http_status) {
  const std::string target = api::PathOf(route, gid, termination);
  HttpResponse r;
  if (http_status) *http_status = 0;
  Status s = transport_->Exchange(api::MethodOf(route), target, body, &r);
  if (!s.ok()) return s;
  if (http_status) *http_status = r.status;
  if (reply_body) *reply_body = r.body;
  return api::StatusOfReply(r.status, r.body, "agent " + url_ + " " + target);
}

Status AgentClient::ReadState(const std::string& gid, bool freeze, State* out) {
  std::string body;
  Status s = Call(freeze ? api::Route::kFreeze : api::Route::kState, gid, "", &body);
  if (!s.ok()) return s;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  std::optional<State> st;
  if (j.is_object() && j.contains("state") && j["state"].is_string()) {
    st = ParseState(j["state"].get<std::string>());
  }
  if (!st) return Status::IOError("agent " + url_ + ": no state in " + body.substr(0, 200));
  *out = *st;
  return Status::OK();
}

Status AgentClient::Health(std::string* participant, int64_t* undecided) {
  std::string body;
  Status s = Call(api::Route::kHealthz, "", "", &body);
  if (!s.ok()) return s;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("participant") || !j.contains("undecided")) {
    return Status::IOError("agent " + url_ + ": unexpected /healthz reply " + body.substr(0, 200));
  }
  try {
    if (participant) *participant = j["participant"].get<std::string>();
    if (undecided) *undecided = j["undecided"].get<int64_t>();
  } catch (const nlohmann::json::exception&) {
    return Status::IOError("agent " + url_ + ": unexpected /healthz reply " + body.substr(0, 200));
  }
  return Status::OK();
}

Status ParseAgentList(const std::string& text, const std::string& what,
                      std::map<int, std::string>* out) {
  out->clear();
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    char* end = nullptr;
    const long id = eq == std::string::npos ? 0 : std::strtol(item.c_str(), &end, 10);
    if (eq == std::string::npos || end != item.c_str() + eq || id < 1 || id > 1000 ||
        eq + 1 == item.size()) {
      return Status::InvalidArgument(what + ": want id=host:port,... with ids 1..1000 (got '" +
                                     item + "')");
    }
    std::string url = item.substr(eq + 1);
    if (url.find("://") == std::string::npos) url = "http://" + url;
    if (!out->emplace(static_cast<int>(id), url).second) {
      return Status::InvalidArgument(what + ": agent id " + std::to_string(id) + " given twice");
    }
  }
  if (out->empty()) return Status::InvalidArgument(what + ": no agent given");
  return Status::OK();
}

Status HttpPeerLink::Create(const std::map<int, std::string>& peers,
                            std::chrono::milliseconds timeout, std::unique_ptr<HttpPeerLink>* out) {
  auto link = std::make_unique<HttpPeerLink>();
  for (const auto& [id, url] : peers) {
    std::unique_ptr<AgentClient> c;
    Status s = AgentClient::Create(url, timeout, &c);
    if (!s.ok()) return s;
    link->clients_[id] = std::move(c);
  }
  *out = std::move(link);
  return Status::OK();
}

AgentClient* HttpPeerLink::Of(int peer) {
  auto it = clients_.find(peer);
  return it == clients_.end() ? nullptr : it->second.get();
}

Status HttpPeerLink::Freeze(int peer, const std::string& gid, State* out) {
  AgentClient* c = Of(peer);
  if (!c) return Status::NotFound("no agent " + std::to_string(peer));
  return c->ReadState(gid, true, out);
}

Status HttpPeerLink::Decide(int peer, const std::string& gid, Decision d) {
  AgentClient* c = Of(peer);
  if (!c) return Status::NotFound("no agent " + std::to_string(peer));
  if (d == Decision::kNone) return Status::OK();
  return c->Call(d == Decision::kCommit ? api::Route::kDoCommit : api::Route::kAbort, gid, "",
                 nullptr, true);
}

Status HttpPeerLink::AskToTerminate(int peer, const std::string& gid) {
  AgentClient* c = Of(peer);
  if (!c) return Status::NotFound("no agent " + std::to_string(peer));
  int http = 0;
  Status s = c->Call(api::Route::kTerminate, gid, "", nullptr, false, &http);
  // Any reply means it was reached and has the gid (a termination already
  // running there answers 503); its decision comes back to the asker.
  return http != 0 ? Status::OK() : s;
}

Status AgentParticipant::Prepare(const std::string& gid, const Work& work) {
  return client_->Call(api::Route::kCanCommit, gid, api::WorkToJson(work));
}

Status AgentParticipant::Commit(const std::string& gid) {
  return client_->Call(api::Route::kDoCommit, gid, "");
}

Status AgentParticipant::Abort(const std::string& gid) {
  return client_->Call(api::Route::kAbort, gid, "");
}

Status AgentParticipantState::Precommit(const std::string& gid) {
  return client_->Call(api::Route::kPrecommit, gid, "");
}

Status AgentParticipantState::Read(const std::string& gid, State* out) {
  return client_->ReadState(gid, false, out);
}

}  // namespace dw::threepc
