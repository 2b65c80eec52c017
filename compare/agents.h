// The three-phase-commit agents of a cell: a Postgres agent (id 1) and a
// broker agent (id 2), `dualwrite 3pc agent` processes the cell starts
// beside the coordinator (`3pc run --agents`, the load), so that a fault
// can SIGKILL the coordinator alone or cut the agents apart.
//
// Where each agent is reached is decided before any of them starts: by
// default directly on its own port; the partition scenario puts a fault
// proxy in front of each (compare/faults.cc) so that the coordinator and the
// Postgres agent stay on one side and the broker agent on the other.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace dw::compare {

struct CellContext;
struct Rig;

struct CellAgents {
  std::map<int, int> port;         // id -> the port the agent listens on
  std::map<int, int> coordinator;  // id -> where the coordinator reaches it
  std::map<int, int> peer;         // id -> where the other agent reaches it
  int64_t timeout_ms = 2000;       // the agents' --timeout (coordinator silence)
  bool started = false;

  bool planned() const { return !port.empty(); }
};

// Picks the agents' ports (each reached directly) unless already picked.
void PlanAgents(Rig* rig);

// Starts the agents as processes of the cell (tags agent-1, agent-2) unless
// they run already, and waits until each answers /healthz.
Status StartAgents(CellContext& ctx, Rig* rig);

// `--agents 1=URL,2=URL` for `3pc run`: where the coordinator reaches them.
std::vector<std::string> AgentsArgs(const Rig& rig);

// Waits up to `timeout_s` until no agent holds an undecided transaction
// (their termination protocol has run). False when they still do, or one
// did not answer.
bool WaitAgentsDecided(const Rig& rig, double timeout_s);

}  // namespace dw::compare
