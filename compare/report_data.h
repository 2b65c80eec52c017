// results.json indexed for the report's sections (compare/report.h): the
// approaches in their declared order, the load cells of every section, the
// failure cells, and the look-ups the sections share. Holds pointers into the
// JSON it was built from, which must outlive it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "compare/json_view.h"
#include "compare/report_format.h"

namespace dw::compare::rpt {

// Every section reads the JSON through these (compare/json_view.h): they
// never throw, and a missing or mistyped figure reads as absent.
using jv::Arr;
using jv::Get;
using jv::Num;
using jv::Str;

struct Approach {
  std::string name;
  std::string family;  // floor, 2pc, outbox
  std::string description;
};

class Data {
 public:
  explicit Data(const json& results);

  const json& root() const { return r_; }
  const json& settings() const;
  // Schema version 1 files have no rate grid, contention, relay scaling,
  // CPU, delivered throughput or fixed-rate failure cells.
  bool v1() const { return schema_ == "dualwrite-compare/1"; }
  // "not measured in this run (schema dualwrite-compare/1)".
  std::string NotMeasured() const;

  const std::vector<Approach>& approaches() const { return approaches_; }
  std::string Family(const std::string& approach) const;

  // ---- Section 1 ----
  const std::vector<int>& concurrency() const { return concurrency_; }
  int MaxConcurrency() const { return concurrency_.empty() ? 0 : concurrency_.back(); }
  int MinConcurrency() const { return concurrency_.empty() ? 0 : concurrency_.front(); }
  const std::vector<const json*>& closed() const { return closed_; }
  const json* Closed(const std::string& approach, int concurrency) const;
  // A usable figure per approach (cells without an error) at `concurrency`.
  std::vector<Fig> Collect(int concurrency, Opt (*get)(const json&), bool include_floor) const;
  // The floor's (family "floor") value of `get` at `concurrency`, if above 0.
  Opt FloorFigure(int concurrency, Opt (*get)(const json&)) const;
  // Version 1's open loop at fractions of each approach's own saturation.
  const std::vector<const json*>& open_v1() const { return open_; }
  std::vector<const json*> OpenSeries(const std::string& approach) const;

  bool has_grid() const { return !grid_.empty(); }
  const std::vector<double>& rates() const { return rates_; }
  const json* GridCell(const std::string& approach, double rate) const;
  Opt SustainableRate(const std::string& approach) const;
  Opt FirstUnsustained(const std::string& approach) const;
  // The cell of the first rate the approach did not sustain, or null.
  const json* FirstUnsustainedCell(const std::string& approach) const;

  bool has_contention() const { return !contention_.empty(); }
  const std::vector<int>& hot_rows() const { return hot_rows_; }
  const json* ContentionCell(const std::string& approach, int hot_rows) const;

  bool has_scaling() const { return !scaling_.empty(); }
  // Approaches of the relay-scaling section in the order they appear.
  const std::vector<std::string>& scaling_approaches() const { return scaling_names_; }
  const std::vector<int>& instances() const { return instances_; }
  const json* ScalingCell(const std::string& approach, int instances) const;

  // ---- Section 2 ----
  const std::vector<std::pair<std::string, const json*>>& scenarios() const { return scenarios_; }
  const json* Scenario(const std::string& name) const;  // null: not in this run
  const std::vector<const json*>& failure_cells() const { return fcells_; }
  const json* FailureCell(const std::string& scenario, const std::string& approach) const;
  // The cells of a scenario that ran, in approach order.
  std::vector<const json*> Ran(const std::string& scenario) const;
  // "`a` (n/a: reason), `b` (skipped: reason)" for the cells that did not run.
  std::string NotRun(const std::string& scenario) const;
  Opt FaultSeconds(const std::string& scenario) const;
  // The fixed arrival rate of the failure cells (version 2), or nullopt.
  Opt FailureRate() const;

 private:
  void NoteApproach(const std::string& name);

  const json& r_;
  std::string schema_;
  std::vector<Approach> approaches_;
  std::vector<const json*> closed_;
  std::vector<const json*> open_;
  std::vector<int> concurrency_;
  std::vector<const json*> grid_;
  std::vector<double> rates_;
  std::vector<const json*> contention_;
  std::vector<int> hot_rows_;
  std::vector<const json*> scaling_;
  std::vector<std::string> scaling_names_;
  std::vector<int> instances_;
  std::vector<std::pair<std::string, const json*>> scenarios_;
  std::vector<const json*> fcells_;
};

// Failure-cell figures that version 1 spells differently: operations offered
// during the fault (version 1: attempted), and the share that succeeded.
Opt OfferedDuringFault(const json& cell);
Opt Availability(const json& cell);
// Business p99 during the fault: version 2's p99 of the successes (absent
// when none succeeded), else version 1's p99 of every operation, failures
// included.
Opt P99OkDuringFault(const json& cell);
// The most unsent outbox rows a failure cell's backlog samples saw.
Opt BacklogPeak(const json& cell);

}  // namespace dw::compare::rpt
