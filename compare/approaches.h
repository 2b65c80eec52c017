// The approaches `compare` measures side by side, each a real `dualwrite`
// command line (plus a relay for the outbox), so every figure in the report
// can be reproduced by hand with the command printed beside it.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace dw::compare {

struct Approach {
  std::string name;    // "floor", "2pc-pg", "outbox-skip-locked", ...
  std::string family;  // "floor" | "2pc" | "outbox"
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
  // False when the approach is known to lose messages (offset-naive):
  // verify is expected to find violations, and the report says so.
  bool guaranteed = true;

  bool uses_broker() const { return family != "floor"; }
  bool is_2pc() const { return family == "2pc"; }
  bool is_outbox() const { return family == "outbox"; }
};

// Every approach, in report order.
const std::vector<Approach>& AllApproaches();

// `only` is a comma-separated list of approach names or families ("2pc",
// "outbox", "floor"); empty selects all. InvalidArgument names the unknown
// entry and the valid names.
Status SelectApproaches(const std::string& only, std::vector<Approach>* out);

const Approach* FindApproach(const std::string& name);

}  // namespace dw::compare
