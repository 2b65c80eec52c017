#include "demo/threepc_agents.h"

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "env/http_get.h"
#include "participants/broker_client.h"
#include "workload/orders.h"

namespace dw::demo {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string LoopbackAddress(int port) { return "127.0.0.1:" + std::to_string(port); }

// POST /faults at a proxy's control port; its HTTP status (0: unreachable).
int PostToProxy(int control, const std::string& body, std::string* reply) {
  BrokerClient::Options o;
  o.url = "http://" + LoopbackAddress(control);
  o.timeout = milliseconds(3000);
  std::unique_ptr<BrokerClient> c;
  if (!BrokerClient::Create(o, &c).ok()) return 0;
  HttpResponse r;
  if (!c->Request("POST", "/faults", body, &r).ok()) return 0;
  if (reply) *reply = r.body;
  return r.status;
}

}  // namespace

std::string LessonAgents::List() const {
  std::string s;
  for (const auto& [id, p] : port)
    s += (s.empty() ? "" : ",") + std::to_string(id) + "=" + LoopbackAddress(p);
  return s;
}

Status StartLessonAgents(Stage& st, int64_t timeout_ms, bool through_proxies, LessonAgents* out) {
  out->timeout_ms = timeout_ms;
  for (int id : {1, 2}) out->port[id] = FreeTcpPort();
  std::map<int, int> reach = out->port;  // where the other agent reaches agent id
  if (through_proxies) {
    for (int id : {1, 2}) {
      const int listen = FreeTcpPort();
      out->control[id] = FreeTcpPort();
      Status s =
          st.Spawn({"proxy", "--listen", LoopbackAddress(listen), "--upstream",
                    LoopbackAddress(out->port[id]), "--control", LoopbackAddress(out->control[id])},
                   &out->proxy[id]);
      if (!s.ok()) return s;
      reach[id] = listen;
    }
    for (int id : {1, 2}) {
      int status = 0;
      for (int i = 0; i < 200 && status != 200; ++i) {
        status = PostToProxy(out->control[id], "{}", nullptr);
        if (status != 200) std::this_thread::sleep_for(milliseconds(50));
      }
      if (status != 200) return Status::IOError("the fault proxy did not start");
    }
  }
  for (int id : {1, 2}) {
    const int other = id == 1 ? 2 : 1;
    Status s = st.Spawn({"3pc", "agent", "--participant", id == 1 ? "postgres" : "broker", "--id",
                         std::to_string(id), "--listen", LoopbackAddress(out->port[id]), "--peers",
                         std::to_string(other) + "=" + LoopbackAddress(reach[other]), "--timeout",
                         std::to_string(timeout_ms)},
                        &out->agent[id]);
    if (!s.ok()) return s;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  for (int id : {1, 2}) {
    while (AgentUndecided(*out, id) < 0) {
      if (Clock::now() > deadline) {
        return Status::Timeout("3pc agent " + std::to_string(id) + " did not answer within 20 s");
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  return Status::OK();
}

int64_t AgentUndecided(const LessonAgents& a, int id) {
  env::HttpReply r;
  if (!env::HttpGet(a.port.at(id), "/healthz", milliseconds(2000), &r).ok() || r.status != 200) {
    return -1;
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() ? j.value("undecided", int64_t{-1}) : -1;
}

int64_t WaitAgentsDecided(const LessonAgents& a, milliseconds limit) {
  const auto t0 = Clock::now();
  for (;;) {
    if (AgentUndecided(a, 1) == 0 && AgentUndecided(a, 2) == 0) return MsSince(t0);
    if (Clock::now() - t0 > limit) return -1;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

Status SplitAgents(Stage& st, const LessonAgents& a, bool split) {
  const std::string body =
      split ? "{\"reset\": true, \"refuse\": true}" : "{\"reset\": false, \"refuse\": false}";
  for (const auto& [id, control] : a.control) {
    st.n().Note("the proxy in front of agent " + std::to_string(id) + " (control " +
                LoopbackAddress(control) + "):");
    st.n().Http("POST", "/faults", body);
    std::string reply;
    const int status = PostToProxy(control, body, &reply);
    st.n().HttpReply(status, reply);
    if (status != 200) {
      return Status::IOError("proxy control " + LoopbackAddress(control) + " answered " +
                             std::to_string(status));
    }
  }
  return Status::OK();
}

bool HasOrderMessage(Stage& st, int64_t id) {
  std::vector<BrokerMessage> msgs;
  if (!st.TopicMessages(&msgs).ok()) return false;
  for (const auto& m : msgs) {
    if (m.id == workload::MessageIdFor(id)) return true;
  }
  return false;
}

std::vector<std::string> TerminationLines(const LessonAgents& a, int id) {
  std::vector<std::string> v;
  std::ifstream in(a.agent.at(id).err_path);
  for (std::string line; std::getline(in, line);) {
    if (line.find("terminated") != std::string::npos) v.push_back(line);
  }
  return v;
}

}  // namespace dw::demo
