#include "compare/agents.h"

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "compare/rig.h"
#include "env/http_get.h"

namespace dw::compare {
namespace {

using std::chrono::milliseconds;

constexpr int kPostgresAgentId = 1;
constexpr int kBrokerAgentId = 2;

// Undecided transactions at agent `id` (-1: it did not answer).
int64_t AgentUndecidedCount(const Rig& rig, int id) {
  env::HttpReply r;
  if (!env::HttpGet(rig.agents.port.at(id), "/healthz", milliseconds(2000), &r).ok() ||
      r.status != 200) {
    return -1;
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() ? j.value("undecided", int64_t{-1}) : -1;
}

std::string AgentAddress(int port) { return "127.0.0.1:" + std::to_string(port); }

}  // namespace

void PlanAgents(Rig* rig) {
  if (rig->agents.planned()) return;
  for (int id : {kPostgresAgentId, kBrokerAgentId}) {
    const int port = FreeTcpPort();
    rig->agents.port[id] = port;
    rig->agents.coordinator[id] = port;
    rig->agents.peer[id] = port;
  }
}

Status StartAgents(CellContext& ctx, Rig* rig) {
  if (rig->agents.started) return Status::OK();
  PlanAgents(rig);
  CellAgents& ag = rig->agents;
  for (int id : {kPostgresAgentId, kBrokerAgentId}) {
    const int other = id == kPostgresAgentId ? kBrokerAgentId : kPostgresAgentId;
    Proc* p = nullptr;
    Status s =
        StartProc(ctx, rig, "agent-" + std::to_string(id),
                  {"3pc", "agent", "--participant", id == kPostgresAgentId ? "postgres" : "broker",
                   "--id", std::to_string(id), "--listen", AgentAddress(ag.port.at(id)), "--peers",
                   std::to_string(other) + "=" + AgentAddress(ag.peer.at(other)), "--timeout",
                   std::to_string(ag.timeout_ms)},
                  &p);
    if (!s.ok()) return s;
  }
  ag.started = true;
  // Ready once each answers: an agent opens its pool and reads back what
  // it holds undecided before it listens.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int id : {kPostgresAgentId, kBrokerAgentId}) {
    while (AgentUndecidedCount(*rig, id) < 0) {
      for (auto& p : rig->procs) {
        if (p.tag == "agent-" + std::to_string(id) && p.Wait(milliseconds(0))) {
          return Status::IOError("3pc agent " + std::to_string(id) +
                                 " stopped at start: " + p.ErrorLine());
        }
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Status::Timeout("3pc agent " + std::to_string(id) + " did not answer within 20 s");
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  return Status::OK();
}

std::vector<std::string> AgentsArgs(const Rig& rig) {
  std::string list;
  for (const auto& [id, port] : rig.agents.coordinator) {
    list += (list.empty() ? "" : ",") + std::to_string(id) + "=http://" + AgentAddress(port);
  }
  return {"--agents", list};
}

bool WaitAgentsDecided(const Rig& rig, double timeout_s) {
  if (!rig.agents.started) return true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    const int64_t a = AgentUndecidedCount(rig, kPostgresAgentId),
                  b = AgentUndecidedCount(rig, kBrokerAgentId);
    if (a == 0 && b == 0) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

}  // namespace dw::compare
