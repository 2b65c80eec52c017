// Plan: what one `compare` run measures, by size. The sizes differ only in
// counts and durations, never in what is measured or how:
//   smoke  ctest: seconds per cell, a few approaches in the failure matrix
//   quick  under 5 minutes on 2 cores (the README's main-job command)
//   full   under 40 minutes: every approach in every scenario, C up to 64
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "compare/approaches.h"

namespace dw::compare {

struct Scenario {
  std::string name;   // broker-down, broker-slow, ...
  std::string title;  // one line for tables
  std::string description;
  double fault_s = 0;  // how long the fault lasts in this run
};

struct Plan {
  std::string size;  // smoke | quick | full
  std::vector<Approach> approaches;
  std::vector<int> concurrency;
  double cell_s = 0;  // closed-loop load per latency cell
  // Open loop: offered rates are these fractions of the approach's own
  // closed-loop throughput at the highest concurrency measured.
  std::vector<double> open_fractions;
  std::vector<std::string> open_approaches;  // which approaches get a series
  double open_s = 0;
  int open_concurrency = 0;  // workers available to the open-loop generator
  // Failure matrix.
  std::vector<Scenario> scenarios;
  std::vector<std::string> failure_approaches;
  int failure_concurrency = 4;
  double steady_s = 0;  // load before the fault
  double after_s = 0;   // load after the fault ends
  double converge_timeout_s = 0;
  double drain_timeout_s = 30;
};

// The plan of a size, restricted to `approaches` (already filtered by --only).
Status MakePlan(const std::string& size, const std::vector<Approach>& approaches, Plan* out);

// Why `scenario` does not apply to `a` ("" when it applies).
std::string NotApplicable(const Scenario& scenario, const Approach& a);

}  // namespace dw::compare
