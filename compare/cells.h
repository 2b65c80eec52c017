// Cells: one measurement each. A load cell runs one approach at one
// concurrency (or offered rate) and measures latency, throughput and cost;
// a failure cell runs steady load, injects one fault, heals it, waits for the
// system to converge, and judges the outcome with verify.
//
// Every cell runs real `dualwrite` processes (the load command, the relay,
// the broker, the fault proxy) against a fresh database and a fresh broker,
// so a cell can be reproduced by hand with the command it records.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "compare/approaches.h"
#include "compare/lab.h"
#include "compare/plan.h"

namespace dw::compare {

struct CellContext {
  Lab* lab = nullptr;
  std::string binary;           // the dualwrite executable
  std::string work_dir;         // scratch folder of the run
  std::string external_broker;  // --broker; empty: a fresh broker per cell
  uint64_t seed = 1;
  int next_cell = 0;            // numbers databases and order-id ranges
  bool keep_cells = false;      // keep each cell's folder (logs, samples)
  std::ostream* log = nullptr;  // detail lines (never the TTY progress line)
};

// mode "closed" (rate 0) or "open" (rate > 0 offered operations per second).
nlohmann::json RunLoadCell(CellContext& ctx, const Approach& a, int concurrency, double rate,
                           double duration_s, const Plan& plan);

nlohmann::json RunFailureCell(CellContext& ctx, const Approach& a, const Scenario& scenario,
                              const Plan& plan);

}  // namespace dw::compare
