// The parties of the three-phase-commit lessons besides the stage's own: a
// Postgres agent (id 1) and a broker agent (id 2), `dualwrite 3pc agent`
// processes on free loopback ports, and, for the partition, a fault proxy
// (`dualwrite proxy`) in front of each through which the other agent
// reaches it. The coordinator (`3pc run --agents`) reaches both directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "demo/stage.h"

namespace dw::demo {

struct LessonAgents {
  std::map<int, Child> agent;  // id -> the process
  std::map<int, int> port;     // id -> where it listens
  std::map<int, Child> proxy;  // id -> the proxy in front of it (partition only)
  std::map<int, int> control;  // id -> that proxy's control port
  int64_t timeout_ms = 2000;

  // `--agents` of `3pc run`: 1=127.0.0.1:P1,2=127.0.0.1:P2.
  std::string List() const;
};

// Starts both agents with `--timeout timeout_ms` (narrated), each the
// other's peer (through a proxy with `through_proxies`), and waits until
// each answers /healthz.
Status StartLessonAgents(Stage& st, int64_t timeout_ms, bool through_proxies, LessonAgents* out);

// Undecided transactions at agent `id` (-1: it did not answer).
int64_t AgentUndecided(const LessonAgents& a, int id);

// Waits up to `limit` until neither agent holds an undecided transaction;
// the milliseconds it waited, or -1 when they still do.
int64_t WaitAgentsDecided(const LessonAgents& a, std::chrono::milliseconds limit);

// Splits (`split`) or heals the agents' network: POST /faults to each
// proxy, narrated. Split: every open connection reset and new ones refused.
Status SplitAgents(Stage& st, const LessonAgents& a, bool split);

// Whether the orders topic holds order `id`'s message.
bool HasOrderMessage(Stage& st, int64_t id);

// The lines of agent `id`'s log that report a termination.
std::vector<std::string> TerminationLines(const LessonAgents& a, int id);

}  // namespace dw::demo
