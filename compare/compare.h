// `dualwrite compare`: runs the plan of a size (plan.h) cell by cell
// (cells.h) and writes DIR/results.json, DIR/report.md and DIR/plots/.
// The report and plots are rendered from results.json alone, so
// `compare --from results.json` re-renders them without running anything.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dw::compare {

struct CompareOptions {
  std::string size = "full";  // smoke | quick | full
  std::string out_dir;
  std::string dsn;        // empty: a throwaway embedded cluster
  std::string broker;     // empty: a fresh broker per cell
  std::string only;       // --only
  std::string scenarios;  // --scenarios: empty for the size's matrix
  uint64_t seed = 1;
  std::string command_line;   // for the report (passwords already redacted)
  std::string binary;         // the dualwrite executable
  bool keep_cells = false;    // keep every cell's folder (logs, samples)
  bool progress = true;       // the progress line, when stderr is a TTY
  double e2e_bound_ms = 250;  // the sustainable-rate bound on end-to-end p99
  double failure_rate = 0;    // arrivals/s of the failure cells; 0: from the rate grid
  // --sink: dualwrite (its broker, a process per cell) | nats | rabbitmq (one
  // real server for the run; compare/sink.h). A real sink measures the
  // outbox family and the floor in section 1; the others are recorded as
  // not measured, with why, and the failure matrix is not run there yet.
  std::string sink = "dualwrite";
};

// Runs everything and writes the outputs. Cells that fail are recorded as
// such (with why) and the run goes on; an error here means nothing useful
// could be measured (no Postgres, bad flags, unwritable DIR).
Status RunCompare(const CompareOptions& opts, std::ostream& log, nlohmann::json* results);

// Writes report.md and plots/ for `results` into `dir`. Plot failures (no
// gnuplot) are returned in *warnings, not as an error.
Status RenderOutputs(const nlohmann::json& results, const std::string& dir,
                     std::vector<std::string>* written, std::vector<std::string>* warnings);

}  // namespace dw::compare
