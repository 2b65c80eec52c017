#include "compare/plan.h"

#include <algorithm>

namespace dw::compare {
namespace {

std::vector<Scenario> Scenarios(double fault_s, double held_s) {
  return {
      {"broker-down", "broker down",
       "the broker process is killed (SIGKILL) and restarted on the same log after the fault "
       "window; with an external --broker it refuses connections instead (down_for_ms)",
       fault_s},
      {"broker-slow", "broker slow (+50 ms)",
       "the broker adds 50 ms before answering each request (its latency fault)", fault_s},
      {"postgres-restart", "Postgres crash + restart",
       "pg_ctl stop -m immediate (no shutdown checkpoint), kept down for the fault window, then "
       "started again (crash recovery)",
       fault_s},
      {"process-kill", "coordinator / relay SIGKILL",
       "2PC: the coordinator process (it is also the load generator) is killed with SIGKILL at a "
       "seeded moment and restarted at the end of the window (start-up recovery). Outbox: the "
       "relay is killed and restarted; the writer keeps going",
       fault_s},
      {"partition", "network partition to the broker",
       "the fault proxy between the coordinator/relay and the broker blackholes every byte (no "
       "RST, no answer: calls time out), then lets traffic through again",
       fault_s},
      {"clock-skew", "writer clock +3 s",
       "a second writer whose clock is 3 s ahead stamps created_dttm during the window; the "
       "time-based offset relay (offset-naive runs --by time here) then skips the honest "
       "writer's rows",
       fault_s},
      {"in-doubt-held", "prepared transaction held",
       "an unrelated transaction updates the hot row dw_hot and is PREPAREd, then held for the "
       "window before ROLLBACK PREPARED: it blocks the hot-row probe, holds back vacuum and the "
       "xid horizon",
       held_s},
  };
}

}  // namespace

std::string NotApplicable(const Scenario& s, const Approach& a) {
  if (!a.uses_broker() &&
      (s.name == "broker-down" || s.name == "broker-slow" || s.name == "partition")) {
    return "the floor sends no message";
  }
  if (s.name == "process-kill" && a.family == "floor") {
    return "the floor has no coordinator or relay; its only process is the load itself";
  }
  if (s.name == "clock-skew") {
    if (!a.is_outbox()) return "no clock decides what is sent";
    if (a.name == "outbox-trigger") return "the capture trigger stamps rows with the server clock";
  }
  return "";
}

Status MakePlan(const std::string& size, const std::vector<Approach>& approaches, Plan* p) {
  *p = Plan();
  p->size = size;
  p->approaches = approaches;
  std::vector<std::string> matrix;
  if (size == "smoke") {
    p->concurrency = {2};
    p->cell_s = 0.7;
    p->open_fractions = {0.5};
    p->open_approaches = {"2pc-pg", "outbox-skip-locked"};
    p->open_s = 0.7;
    p->scenarios = Scenarios(1.0, 1.5);
    matrix = {"2pc-pg", "outbox-skip-locked", "outbox-offset-naive"};
    p->failure_concurrency = 2;
    p->steady_s = 0.7;
    p->after_s = 0.7;
    p->converge_timeout_s = 20;
  } else if (size == "quick") {
    p->concurrency = {1, 16};
    p->cell_s = 2.0;
    p->open_fractions = {0.5, 0.9, 1.2};
    p->open_approaches = {"floor", "2pc-pg", "outbox-skip-locked"};
    p->open_s = 1.5;
    p->scenarios = Scenarios(2.0, 4.0);
    matrix = {"2pc-pg", "outbox-skip-locked", "outbox-offset-naive", "outbox-offset-safe"};
    p->failure_concurrency = 4;
    p->steady_s = 1.0;
    p->after_s = 1.0;
    p->converge_timeout_s = 30;
  } else if (size == "full") {
    p->concurrency = {1, 4, 16, 64};
    p->cell_s = 6.0;
    p->open_fractions = {0.25, 0.5, 0.75, 0.9, 1.1};
    for (const auto& a : approaches) p->open_approaches.push_back(a.name);
    p->open_s = 4.0;
    p->scenarios = Scenarios(5.0, 30.0);
    for (const auto& a : approaches) matrix.push_back(a.name);
    p->failure_concurrency = 4;
    p->steady_s = 2.0;
    p->after_s = 3.0;
    p->converge_timeout_s = 60;
  } else {
    return Status::InvalidArgument("unknown size '" + size + "' (want smoke, quick or full)");
  }
  p->open_concurrency = 64;
  // Keep only approaches that were selected (--only).
  auto selected = [&](const std::string& n) {
    return std::any_of(approaches.begin(), approaches.end(),
                       [&](const Approach& a) { return a.name == n; });
  };
  std::erase_if(p->open_approaches, [&](const std::string& n) { return !selected(n); });
  for (const auto& n : matrix) {
    if (selected(n)) p->failure_approaches.push_back(n);
  }
  // --only naming approaches outside the size's matrix still gets them a matrix.
  if (p->failure_approaches.empty()) {
    for (const auto& a : approaches) p->failure_approaches.push_back(a.name);
  }
  return Status::OK();
}

}  // namespace dw::compare
