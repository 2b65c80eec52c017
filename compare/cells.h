// Cells: one measurement each. A load cell runs one approach at one
// concurrency (or offered rate) and measures latency, business and delivered
// throughput, CPU per party and cost; a failure cell runs load at a fixed
// arrival rate, injects one fault (compare/faults.h), heals it, waits for the
// system to converge, and judges the outcome with verify and the history
// checker.
//
// Every cell runs real `dualwrite` processes (the load command, the relay,
// the broker, the fault proxy) against a fresh database and a fresh broker
// (compare/rig.h), so a cell can be reproduced by hand with the command it
// records.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare/approaches.h"
#include "compare/lab.h"
#include "compare/plan.h"
#include "compare/results.h"
#include "compare/sink.h"

namespace dw::compare {

struct CellContext {
  Lab* lab = nullptr;
  std::string binary;           // the dualwrite executable
  std::string work_dir;         // scratch folder of the run
  std::string external_broker;  // --broker; empty: a fresh broker per cell
  // --sink nats|rabbitmq: the run's server (compare/sink.h), which every
  // outbox cell publishes to instead of a broker; null: dualwrite's broker.
  SinkServer* sink = nullptr;
  // A nats sink: the relays' --dedupe-window (the stream's duplicate
  // window); 0: the relay's default, 2 min.
  std::chrono::milliseconds dedupe_window{0};
  uint64_t seed = 1;
  int next_cell = 0;  // numbers databases and order-id ranges
  // Distinguishes this run's order ids and 2PC coordinator ids from other
  // runs' on a shared (--broker) broker, which remembers ids and gids.
  uint64_t run_nonce = 0;       // < 8,000,000
  bool keep_cells = false;      // keep each cell's folder (logs, samples)
  std::ostream* log = nullptr;  // detail lines (never the TTY progress line)
};

// One load cell: closed loop at `concurrency` workers, or open loop at
// `rate` arrivals per second (then `concurrency` workers serve them).
struct LoadSpec {
  int concurrency = 1;
  double rate = 0;
  double duration_s = 1;
  int hot_rows = 0;  // --hot-rows of the load (0: no stock reservation)
  double hot_skew = 0;
  int relay_instances = 0;  // > 0: overrides the approach's deployment
  // Operations started in the first warmup_s seconds (workers opening their
  // connections) are left out of the latency figures.
  double warmup_s = 0.5;
  double e2e_bound_ms = 250;  // open loop: the sustainable-rate bound
};

results::LoadCell MeasureLoadCell(CellContext& ctx, const Approach& a, const LoadSpec& spec,
                                  const Plan& plan);

// MeasureLoadCell `repetitions` times: the headline figures become medians over
// the runs, each with its [min, max] under `range`; the distributions (CDFs)
// are the run with the median business throughput's. One run: that run.
results::LoadCell RunLoadCellRepeated(CellContext& ctx, const Approach& a, const LoadSpec& spec,
                                      const Plan& plan, int repetitions);

// The same, over runs already made (exposed for tests; the JSON form reads
// each run into a LoadCell first).
results::LoadCell MergeRuns(const std::vector<results::LoadCell>& runs);
nlohmann::json MergeRepetitions(const std::vector<nlohmann::json>& runs);

// A failure cell of `scenario` at `rate` arrivals per second.
results::FailureCell RunFailureCell(CellContext& ctx, const Approach& a, const Scenario& scenario,
                                    const Plan& plan, double rate);

// One fault, fully specified (RunFailureCell fills it from the plan; the
// chaos campaign draws it from its seed). Besides the scenarios of plan.h:
//   crash-point   the load (2PC's or 3PC's coordinator, the saga's
//                 orchestrator) runs with --crash-at `crash_at` --crash-after
//                 `crash_after`, or the relay (the event-sourced projector)
//                 with its own flag (CrashPointArgs, faults.h), and dies there
//                 by itself; the fault window is from its death to its restart
//                 (fault_s later)
//   broker-crash  the broker is armed with its crash point `crash_at`
//                 (after-stage-before-vote | after-commit-before-reply), dies
//                 there by itself, and is restarted fault_s later
struct FaultSpec {
  std::string scenario;
  double steady_s = 1, fault_s = 1, after_s = 1;
  int concurrency = 4;       // workers (closed loop), or workers serving `rate`
  double rate = 0;           // > 0: open loop at this many arrivals per second
  double kill_after_s = -1;  // process-kill: seconds into the window; < 0: drawn from the seed
  std::string crash_at;
  int64_t crash_after = 0;
  double converge_timeout_s = 30, drain_timeout_s = 30;
};
results::FailureCell RunFault(CellContext& ctx, const Approach& a, const FaultSpec& spec);

// A failure cell recorded without running: `status` n/a or skipped, with why.
results::FailureCell UnrunFailureCell(const Approach& a, const std::string& scenario,
                                      const std::string& status, const std::string& reason);

}  // namespace dw::compare
