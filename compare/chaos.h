// The randomized crash campaign (`dualwrite chaos`): each run draws, from
// (seed, run number) alone, an approach, a load and a fault, runs it as a
// failure cell (cells.h: real processes, real kills), heals it, lets
// recovery run, and judges it with verify plus the history checker
// (history.h). Any run is reproduced by `dualwrite chaos --seed S --run K`
// (with the campaign's --approach, --fault, --sink and --dedupe-window).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dw::compare {

struct ChaosOptions {
  int runs = 20;
  uint64_t seed = 1;
  int only_run = -1;       // >= 0: run just this one (reproduction)
  std::string approaches;  // --approach: names or families; empty = 2pc + outbox
  // --fault: only these faults (comma list), and the faults drawn only when
  // named (agent-kill); empty = every fault each approach meets.
  std::string faults;
  // --sink nats|rabbitmq: one real server for the campaign (compare/sink.h),
  // which the outbox publishes to; only the approaches it serves are
  // drawn (NotWithSink). "" or "dualwrite": dualwrite's broker per run.
  std::string sink;
  // --dedupe-window (nats) as given, e.g. "2s"; empty: the relay's default
  // (2 min). With it, relay-outage is drawn and its window outlasts it.
  std::string dedupe_window;
  std::string dsn;  // empty: a throwaway embedded cluster
  std::string binary;
  std::string out_dir;       // chaos.json + chaos.md; empty: none
  std::string command_line;  // for the summary
  bool keep_cells = false;
};

struct ChaosSummary {
  int runs = 0;
  int violations = 0;       // runs of an approach that promises atomicity that failed
  int expected_losses = 0;  // offset-naive's runs, 3PC's partitions: loss found
  // Second copies delivered (verify's duplicates), all runs together: a
  // relay's replay that the sink kept (RabbitMQ; JetStream past its window).
  int64_t duplicates = 0;
  std::vector<std::string> reproduce;  // one command per violation
  nlohmann::json results;              // everything, as written to chaos.json
};

// Prints one line per run to `log`. Error only when nothing could run.
Status RunChaos(const ChaosOptions& opts, std::ostream& log, ChaosSummary* out);

}  // namespace dw::compare
