// The approaches `compare` measures side by side, each a real `dualwrite`
// command line (plus a relay for the outbox), so every figure in the report
// can be reproduced by hand with the command printed beside it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace dw::compare {

// What an approach is, for what a cell starts around its load and which
// faults apply to it. A new family adds a value here and a declaration in
// approaches.cc (FamilyDef): cells, faults and chaos read the declaration.
enum class Family { kFloor, kTwoPc, kOutbox, kSaga, kEventSourced, kThreePc };

// How a cell judges an approach's outcome.
enum class Judge {
  kNone,         // sends nothing: only in-doubt transactions matter (the floor)
  kOrdersTopic,  // verify: every `orders` row has exactly one message, and back
  kSaga,         // saga verify: each order's final status against its events
};

// What a family is, declared once (approaches.cc) and read by cells, faults,
// chaos and results.json instead of a switch per place.
struct FamilyDef {
  Family family;
  const char* name;  // results.json's `family`: "floor" | "2pc" | "outbox" | "saga" | ...
  Judge judge = Judge::kOrdersTopic;
  // The process `process-kill` SIGKILLs: the load itself (it is the
  // coordinator / orchestrator) or the relay process beside it; nullptr: none.
  const char* killed = nullptr;
  bool kill_load = false;
  // The rows are built from the messages (event sourcing's projector), so a
  // cell waits for the rows to catch up with the topic, not the reverse.
  bool rows_follow_messages = false;
  // The load can take --hot-rows (a stock row reserved in its transaction).
  bool reserves_stock = true;
  // A publish refused with 422 (the broker's reject_prob) is an answer the
  // operation handles (the saga compensates, the event-sourced write
  // fails), not a fault its relay would retry forever.
  bool handles_refusal = false;
  // The load's own `--crash-at` points (chaos and the crash-point scenario),
  // or the relay's where relay_crash_flag is set.
  std::vector<std::string> crash_points;
  // The crash points belong to the relay, armed by this flag of its command
  // with a batch number (event sourcing's projector: `es project
  // --crash-after-insert N`); the crash-point fault then waits for the
  // relay's death and restarts it. nullptr: they are the load's
  // (`--crash-at P --crash-after N`).
  const char* relay_crash_flag = nullptr;
  // The broker's crash points that concern this family's publishes.
  std::vector<std::string> broker_crash_points;
};

const FamilyDef& Def(Family f);
const char* FamilyName(Family f);  // Def(f).name
const std::vector<FamilyDef>& AllFamilies();

struct Approach {
  std::string name;  // "floor", "2pc-pg", "outbox-skip-locked", ...
  Family family = Family::kFloor;
  std::string description;
  // The load command after `dualwrite [globals]`, without load flags
  // (--concurrency, --duration, ... are added per cell).
  std::vector<std::string> load;
  // 2PC: `2pc recover` with the same decision log, run once the load has
  // exited if transactions are still in doubt (an operator, or the next run
  // of the coordinator, would do the same). Saga: `saga recover`, run once
  // the load has exited (it finishes sagas a killed orchestrator left open).
  // Empty otherwise.
  std::vector<std::string> recover;
  // Outbox: the relay's arguments after `dualwrite [globals]`; event
  // sourcing: the projector (`es project`), which plays the relay's part in
  // a cell. Empty otherwise.
  std::vector<std::string> relay;
  // A query on the cell's database that returns a count > 0 once the relay
  // is ready (its session is open, its slot or offset row exists).
  std::string relay_ready_sql;
  // Outbox: the relay as a user would deploy it (`--batch`, `--instances`),
  // chosen from the relay-scaling measurements (bench/README.md, "Outbox"):
  // batch 1000 for every strategy, and two instances where the strategy
  // allows several (SKIP LOCKED claims let them share the table; offset
  // and cdc relays are one reader by construction). 0: not a relay.
  int relay_batch = 0;
  int relay_instances = 0;
  // False when the approach is known to lose messages (offset-naive):
  // verify is expected to find violations, and the report says so.
  bool guaranteed = true;
  // Failure scenarios under which the approach is known to lose atomicity
  // although it keeps it otherwise (3PC under a partition): there its
  // violations are expected, as all of offset-naive's are.
  std::vector<std::string> expected_loss_under;
  // Failure scenarios (compare/faults.h) that do not apply to this approach
  // alone, each with why: {scenario name, reason}. The scenario's own rule
  // (by family) applies besides.
  std::vector<std::pair<std::string, std::string>> not_applicable;
  // 2PC: how many orders one coordinator thread drives in lockstep
  // (`2pc run --batch`: their prepares sent before any answer is read, their
  // decisions made together, in one forced log write or, with --lrco, as
  // one-phase commits started together; each order keeps its own transaction,
  // votes and decision) in the cells where that applies: closed loop, at
  // least kLockstepFrom orders in flight, no hot rows (orders of one batch
  // would wait on each other's prepared row locks). Everywhere else, and 0
  // for every other approach: one order per thread. Why 4 from 16: it is
  // where it was measured to pay (bench/README.md, "Lockstep batches"):
  // a sixth (postgres and file log) to a third (--lrco) less coordinator CPU
  // per order at C=16. In open loop a batch would wait for its last order's
  // arrival, which the latency of its first would pay.
  int lockstep_batch = 0;
  static constexpr int kLockstepFrom = 16;
  // The --batch of a load cell (1: none).
  int LockstepBatch(int concurrency, bool open_loop, int hot_rows) const {
    if (lockstep_batch <= 1 || open_loop || hot_rows > 0 || concurrency < kLockstepFrom) return 1;
    return lockstep_batch;
  }

  // Measured by the full size, and by the others only where --only names
  // it: the smoke and quick sizes' time budgets have no room for it (and
  // chaos's default draw leaves it out).
  bool full_size_only = false;

  const FamilyDef& def() const { return Def(family); }
  bool uses_broker() const { return def().judge != Judge::kNone; }
  bool is_2pc() const { return family == Family::kTwoPc; }
  bool is_outbox() const { return family == Family::kOutbox; }
  bool is_3pc() const { return family == Family::kThreePc; }
  // `guaranteed`, for one failure scenario (expected_loss_under).
  bool GuaranteedUnder(const std::string& scenario) const;
  bool has_relay() const { return !relay.empty(); }
  // Relays that may run as several instances (--instances K).
  bool relay_scales() const { return relay_instances > 1; }
  // Why `scenario` does not apply to this approach alone ("" when it may).
  std::string NotApplicable(const std::string& scenario) const;
};

// Every approach, in report order.
const std::vector<Approach>& AllApproaches();

// `only` is a comma-separated list of approach names or families ("2pc",
// "outbox", "floor", "saga", "event-sourced", "3pc"); empty selects all. InvalidArgument names the
// unknown entry and the valid names.
Status SelectApproaches(const std::string& only, std::vector<Approach>* out);

const Approach* FindApproach(const std::string& name);

// Removes from `v` the full_size_only approaches that `only` (--only's list)
// does not name: for a size other than full, and chaos's draw.
void LeaveOutFullSizeOnly(const std::string& only, std::vector<Approach>* v);

}  // namespace dw::compare
