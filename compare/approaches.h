// The approaches `compare` measures side by side, each a real `dualwrite`
// command line (plus a relay for the outbox), so every figure in the report
// can be reproduced by hand with the command printed beside it.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace dw::compare {

// What an approach is, for what a cell starts around its load and which
// faults apply to it. A new family adds a value here and its name below.
enum class Family { kFloor, kTwoPc, kOutbox };
const char* FamilyName(Family f);  // "floor" | "2pc" | "outbox" (results.json's `family`)

struct Approach {
  std::string name;  // "floor", "2pc-pg", "outbox-skip-locked", ...
  Family family = Family::kFloor;
  std::string description;
  // The load command after `dualwrite [globals]`, without load flags
  // (--concurrency, --duration, ... are added per cell).
  std::vector<std::string> load;
  // 2PC: `2pc recover` with the same decision log, run once the load has
  // exited if transactions are still in doubt (an operator, or the next run
  // of the coordinator, would do the same). Empty otherwise.
  std::vector<std::string> recover;
  // Outbox: the relay's arguments after `dualwrite [globals]`; empty otherwise.
  std::vector<std::string> relay;
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

  bool uses_broker() const { return family != Family::kFloor; }
  bool is_2pc() const { return family == Family::kTwoPc; }
  bool is_outbox() const { return family == Family::kOutbox; }
  // Relays that may run as several instances (--instances K).
  bool relay_scales() const { return relay_instances > 1; }
};

// Every approach, in report order.
const std::vector<Approach>& AllApproaches();

// `only` is a comma-separated list of approach names or families ("2pc",
// "outbox", "floor"); empty selects all. InvalidArgument names the unknown
// entry and the valid names.
Status SelectApproaches(const std::string& only, std::vector<Approach>* out);

const Approach* FindApproach(const std::string& name);

}  // namespace dw::compare
