// Faults: the scenarios of the failure matrix (and the chaos campaign's
// crash points), one object each. A fault cell (fault_cell.cc) runs the
// same steps for every scenario:
//
//   Setup      before any process starts (e.g. a proxy in front of the broker)
//   Arm        right after the load started (e.g. start a process that will
//              crash by itself, so its start-up is not taken from the window)
//   Inject     steady_s after the load started; may move the window's start
//              to the moment the fault really happened (a crash point fires
//              by itself)
//   Heal       fault_s after the window started
//
// so a new scenario is one class here and one line in Scenarios(). A fault
// reaches the cell's world through FaultRun, and never the other way round.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "compare/approaches.h"
#include "compare/cells.h"
#include "compare/rig.h"

namespace dw::compare {

// What a fault acts on while its cell runs.
struct FaultRun {
  CellContext& ctx;
  Rig& rig;
  const Approach& approach;
  const FaultSpec& spec;
  LoadShape shape;  // the load's shape (a fault may change it in Setup)
  std::string samples;
  nlohmann::json& notes;
  std::mt19937_64 rng;
  size_t load_i = 0;              // rig.procs index of the current load process
  std::optional<size_t> relay_i;  // ... and of the relay
  int64_t load_start_us = 0;
  int64_t fault_start_us = 0;
  bool by_time = false;  // offset-naive runs --by time (clock-skew)

  Proc& load() { return rig.procs[load_i]; }
  // Sleeps until a process kill's moment in the window: spec.kill_after_s
  // (chaos draws it; at most the window), else a seeded draw in its first
  // second (at most half the window). Returns the seconds slept.
  double SleepUntilKill();
  // A new load process for what is left of the cell's time.
  Status RestartLoad(uint64_t seed);
  Status RestartRelay();
};

class Fault {
 public:
  virtual ~Fault() = default;
  virtual Status Setup(FaultRun&) { return Status::OK(); }
  // Right after the load started, before the steady part.
  virtual Status Arm(FaultRun&) { return Status::OK(); }
  virtual Status Inject(FaultRun& run) = 0;
  virtual Status Heal(FaultRun& run) = 0;
  // Adds what only this fault measures to the cell (after convergence).
  virtual void Report(FaultRun&, nlohmann::json* /*cell*/) {}
};

struct ScenarioDef {
  std::string name, title, description;
  bool in_matrix = true;  // false: only the chaos campaign draws it
  bool needs_embedded_postgres = false;
  // Why it does not apply to `a` ("" when it applies).
  std::function<std::string(const Approach& a)> not_applicable;
  std::function<std::unique_ptr<Fault>()> make;
  // In the matrix of the full size only: it applies to few approaches, and
  // the quick size's six minutes are spent on the scenarios every family meets.
  bool full_only = false;
  // Run by `compare --sink nats|rabbitmq` with the real server (set in
  // Scenarios()); the others are recorded there as not run yet.
  bool with_sink = false;
};

// The flags that arm a crash-point cell's crash point (spec.crash_at after
// spec.crash_after operations): the load's `--crash-at P --crash-after N`,
// or the relay's own (FamilyDef::relay_crash_flag) with a batch number.
std::vector<std::string> CrashPointArgs(const Approach& a, const FaultSpec& spec);

// agent-kill: a 3PC participant agent SIGKILLed and started again
// (compare/fault_agent_kill.cc).
std::unique_ptr<Fault> MakeAgentKill();
// relay-outage: the outbox relay killed while it drains a backlog, down for
// the rest of the window (compare/fault_relay_outage.cc).
std::unique_ptr<Fault> MakeRelayOutage();
// The faults that act on the broker or a real sink (compare/fault_broker.cc).
std::unique_ptr<Fault> MakeBrokerDown();
std::unique_ptr<Fault> MakeBrokerSlow();
std::unique_ptr<Fault> MakeBrokerReject();
std::unique_ptr<Fault> MakePartition();

// Every scenario, matrix ones in report order.
const std::vector<ScenarioDef>& Scenarios();
const ScenarioDef* FindScenario(const std::string& name);

}  // namespace dw::compare
