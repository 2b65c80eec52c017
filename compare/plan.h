// Plan: what one `compare` run measures, by size. The sizes differ only in
// counts, durations and which approaches enter the longer sections, never in
// what is measured or how:
//   smoke  ctest: seconds per cell, a few approaches
//   quick  at most 6 minutes on 2 cores (the README's main-job command)
//   full   every approach in every section, 3 repetitions of section 1
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "compare/approaches.h"

namespace dw::compare {

struct Scenario {
  std::string name;  // broker-down, broker-slow, ... (compare/faults.h)
  std::string title;
  std::string description;
  double fault_s = 0;  // how long the fault lasts in this run
};

struct Plan {
  std::string size;  // smoke | quick | full
  std::vector<Approach> approaches;
  int repetitions = 1;    // runs of each closed-loop cell (median, min-max)
  double warmup_s = 0.5;  // left out of every load cell's latency figures
  // Every load cell runs its duration and then on until this many operations
  // have completed (at most 10 times the duration): a cell whose first
  // operations took the whole window on a stalled machine still has figures.
  // Failure cells keep their timeline and do not extend.
  int64_t min_ops = 40;
  // Closed loop.
  std::vector<int> concurrency;
  double cell_s = 0;
  // The rate grid: the same offered rates for every approach in
  // `grid_approaches`; an approach leaves it after its first unsustained rate.
  std::vector<double> rates;
  std::vector<std::string> grid_approaches;
  double open_s = 0;
  int open_concurrency = 0;  // workers serving the arrivals
  double e2e_bound_ms = 250;
  // Contention: closed loop at `contention_concurrency` with --hot-rows N.
  std::vector<int> hot_rows;
  std::vector<std::string> contention_approaches;
  int contention_concurrency = 16;
  // Relay scaling: closed loop at `contention_concurrency`, 1..3 instances.
  std::vector<std::string> scaling_approaches;
  std::vector<int> scaling_instances;
  // Failure matrix, at `failure_rate` arrivals per second (0: half the
  // lowest sustainable rate of the matrix's approaches on the grid).
  std::vector<Scenario> scenarios;
  double fault_s = 0;  // each scenario's fault window, the size's
  double held_s = 0;   // in-doubt-held's: a prepared transaction held this long
  std::vector<std::string> failure_approaches;
  double failure_rate = 0;
  double steady_s = 0;  // load before the fault
  double after_s = 0;   // load after the fault ends
  double converge_timeout_s = 0;
  double drain_timeout_s = 30;
  // Order per key (compare/order_cell.h): every approach of
  // `ordering_approaches` with every relay deployment of `ordering_relays`
  // ({instances, --partition-by key}) that applies to it, healthy ("") and
  // under each of `ordering_faults`; `ordering_orders` orders of
  // `ordering_events` events each. Empty approaches: the section does not run.
  std::vector<std::string> ordering_approaches;
  std::vector<std::pair<int, bool>> ordering_relays;
  std::vector<std::string> ordering_faults;
  int ordering_orders = 0;
  int ordering_events = 3;
  double ordering_fault_s = 1;
};

// The plan of a size, restricted to `approaches` (already filtered by --only).
Status MakePlan(const std::string& size, const std::vector<Approach>& approaches, Plan* out);

// --scenarios: keeps the failure matrix's scenarios named in the
// comma-separated `list` (in the matrix's own order, with the size's fault
// windows), or none for "none". A scenario the size leaves to the full run
// still gets a place when named. An unknown name is an InvalidArgument that
// lists the known ones.
Status SelectScenarios(const std::string& list, Plan* plan);

// The cells a run of `plan` measures, for its progress line: every closed
// loop, contention and relay-scaling cell, every grid rate of every grid
// approach (an upper bound: an approach leaves the grid after its first
// rate not sustained, and the run then takes the rates it will not offer
// off the total), and the failure cells whose scenario applies to the
// approach (the others are recorded as n/a without running).
size_t PlannedCells(const Plan& plan);

// Whether the failure cell of `scenario` x `approach` runs (false: n/a).
bool FailureCellRuns(const std::string& scenario, const std::string& approach);

// When no rate is given and no approach of the matrix sustained a grid rate.
inline constexpr double kFallbackFailureRate = 250;

}  // namespace dw::compare
