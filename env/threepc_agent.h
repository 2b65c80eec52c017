// A three-phase-commit participant agent (`dualwrite 3pc agent`,
// threepc/agent.h) as a ServerKind: what `3pc run` starts by default and
// what tests start, SIGKILL and restart. It keeps no data of its own (its
// state is its participant's), so the data folder holds only its log.
#pragma once

#include <cstdint>
#include <string>

#include "env/server_process.h"

namespace dw::env {

struct ThreePcAgentSpec {
  std::string binary;                    // the dualwrite binary
  std::string participant = "postgres";  // "postgres" | "broker"
  int id = 1;
  std::string peers;  // "id=host:port,..." (empty: none)
  int64_t timeout_ms = 2000;
  std::string dsn;         // --dsn (the Postgres agent's database)
  std::string broker_url;  // --broker (the broker agent's broker)
  int64_t parent_pid = 0;  // --parent-pid; 0: none
};

// Ready once GET /healthz answers 200.
ServerKind ThreePcAgentKind(ThreePcAgentSpec spec);

}  // namespace dw::env
