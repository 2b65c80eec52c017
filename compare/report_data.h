// results.json indexed for the report's sections (compare/report.h): the
// typed run (compare/results.h), the approaches in their declared order, the
// cells of every section, and the look-ups the sections share.
//
// Sections read figures only through the typed results, never by key: the
// keys of results.json live in compare/results*.cc alone. A figure a file
// lacks (an older schema, a run that failed half way) reads as absent, and
// the formatters of compare/report_format.h print it as "-".
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "compare/report_format.h"
#include "compare/results.h"

namespace dw::compare::rpt {

using results::FailureCell;
using results::OrderCell;
using results::ScenarioInfo;

struct Approach {
  std::string name;
  std::string family;  // floor, 2pc, outbox, saga, event-sourced, 3pc
  std::string description;
};

// An empty cell, for a table column whose cell is missing: every figure
// reads as absent.
const LoadCell& NoCell();

class Data {
 public:
  explicit Data(results::Run run);
  // The cells below are pointers into run_.
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;

  const results::Run& run() const { return run_; }
  // The parts of the run, empty when the file has none.
  const results::Machine& machine() const;
  const results::Settings& settings() const;
  // Schema version 1 files have no rate grid, contention, relay scaling,
  // CPU, delivered throughput or fixed-rate failure cells.
  bool v1() const { return schema_ == results::kSchemaV1; }
  // "not measured in this run (schema dualwrite-compare/1)".
  std::string NotMeasured() const;

  const std::vector<Approach>& approaches() const { return approaches_; }
  std::string Family(const std::string& approach) const;

  // ---- Section 1 ----
  const std::vector<int>& concurrency() const { return concurrency_; }
  int MaxConcurrency() const { return concurrency_.empty() ? 0 : concurrency_.back(); }
  int MinConcurrency() const { return concurrency_.empty() ? 0 : concurrency_.front(); }
  const std::vector<const LoadCell*>& closed() const { return closed_; }
  const LoadCell* Closed(const std::string& approach, int concurrency) const;
  // A usable figure per approach (cells without an error) at `concurrency`.
  std::vector<Fig> Collect(int concurrency, Opt (*get)(const LoadCell&), bool include_floor) const;
  // The floor's (family "floor") value of `get` at `concurrency`, if above 0.
  Opt FloorFigure(int concurrency, Opt (*get)(const LoadCell&)) const;
  // Version 1's open loop at fractions of each approach's own saturation.
  const std::vector<const LoadCell*>& open_v1() const { return open_; }
  std::vector<const LoadCell*> OpenSeries(const std::string& approach) const;

  bool has_grid() const { return !grid_.empty(); }
  const std::vector<double>& rates() const { return rates_; }
  const LoadCell* GridCell(const std::string& approach, double rate) const;
  // The grid's bound on e2e p99, drain and backlog, in ms.
  Opt GridBoundMs() const;
  Opt SustainableRate(const std::string& approach) const;
  Opt FirstUnsustained(const std::string& approach) const;
  // The cell of the first rate the approach did not sustain, or null.
  const LoadCell* FirstUnsustainedCell(const std::string& approach) const;

  bool has_contention() const { return !contention_.empty(); }
  const std::vector<int>& hot_rows() const { return hot_rows_; }
  const LoadCell* ContentionCell(const std::string& approach, int hot_rows) const;
  Opt ContentionConcurrency() const;

  bool has_scaling() const { return !scaling_.empty(); }
  // Approaches of the relay-scaling section in the order they appear.
  const std::vector<std::string>& scaling_approaches() const { return scaling_names_; }
  const std::vector<int>& instances() const { return instances_; }
  const LoadCell* ScalingCell(const std::string& approach, int instances) const;

  // ---- Section 2 ----
  // Every scenario of the run, with its description where the file has one
  // (null for a scenario named only by its cells).
  const std::vector<std::pair<std::string, const ScenarioInfo*>>& scenarios() const {
    return scenarios_;
  }
  bool HasScenario(const std::string& name) const;
  const std::vector<const FailureCell*>& failure_cells() const { return fcells_; }
  const FailureCell* Failure(const std::string& scenario, const std::string& approach) const;
  // The cells of a scenario that ran, in approach order.
  std::vector<const FailureCell*> Ran(const std::string& scenario) const;
  // "`a` (n/a: reason), `b` (skipped: reason)" for the cells that did not run.
  std::string NotRun(const std::string& scenario) const;
  Opt FaultSeconds(const std::string& scenario) const;
  // The fixed arrival rate of the failure cells (version 2), or nullopt.
  Opt FailureRate() const;

  // ---- Order per key: null when the run has no such section ----
  const results::OrderPerKey* order_per_key() const;

 private:
  void NoteApproach(const std::string& name);

  const results::Run run_;
  std::string schema_;
  std::vector<Approach> approaches_;
  std::vector<const LoadCell*> closed_;
  std::vector<const LoadCell*> open_;
  std::vector<int> concurrency_;
  std::vector<const LoadCell*> grid_;
  std::vector<double> rates_;
  std::vector<const LoadCell*> contention_;
  std::vector<int> hot_rows_;
  std::vector<const LoadCell*> scaling_;
  std::vector<std::string> scaling_names_;
  std::vector<int> instances_;
  std::vector<std::pair<std::string, const ScenarioInfo*>> scenarios_;
  std::vector<const FailureCell*> fcells_;
};

// Failure-cell figures that version 1 spells differently: operations offered
// during the fault (version 1: attempted), and the share that succeeded.
Opt OfferedDuringFault(const FailureCell& cell);
Opt Availability(const FailureCell& cell);
// Business p99 during the fault: version 2's p99 of the successes (absent
// when none succeeded), else version 1's p99 of every operation, failures
// included.
Opt P99OkDuringFault(const FailureCell& cell);
// The most unsent outbox rows a failure cell's backlog samples saw.
Opt BacklogPeak(const FailureCell& cell);

}  // namespace dw::compare::rpt
