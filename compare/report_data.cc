#include "compare/report_data.h"

#include <algorithm>
#include <cmath>

#include "compare/json_view.h"

namespace dw::compare::rpt {
namespace {

void AddSorted(std::vector<int>& v, Opt x) {
  if (!Valid(x)) return;
  int n = static_cast<int>(std::lround(*x));
  if (std::find(v.begin(), v.end(), n) == v.end()) v.push_back(n);
  std::sort(v.begin(), v.end());
}

bool Is(const json& cell, const std::string& approach, const char* key, double value) {
  Opt v = Num(cell, key);
  return Str(cell, "approach") == approach && Valid(v) && std::fabs(*v - value) < 1e-9;
}

const json* Find(const std::vector<const json*>& cells, const std::string& approach,
                 const char* key, double value) {
  for (const json* c : cells) {
    if (Is(*c, approach, key, value)) return c;
  }
  return nullptr;
}

}  // namespace

Data::Data(const json& r) : r_(r), schema_(Str(r, "schema")) {
  for (const json& a : Arr(r_, "approaches")) {
    std::string name = Str(a, "name");
    if (!name.empty()) approaches_.push_back({name, Str(a, "family"), Str(a, "description")});
  }
  for (const json& c : Arr(r_, "latency")) {
    if (Str(c, "mode") == "open") continue;
    closed_.push_back(&c);
    NoteApproach(Str(c, "approach"));
    AddSorted(concurrency_, Num(c, "concurrency"));
  }
  for (const json& c : Arr(r_, "open_loop")) {
    open_.push_back(&c);
    NoteApproach(Str(c, "approach"));
  }
  const json& grid = Get(r_, "rate_grid");
  for (const json& c : Arr(grid, "cells")) {
    grid_.push_back(&c);
    NoteApproach(Str(c, "approach"));
  }
  for (const json& x : Arr(grid, "rates")) {
    if (Opt v = Num(x); Valid(v)) rates_.push_back(*v);
  }
  // Rates of cells the `rates` list lacks still get a row.
  for (const json* c : grid_) {
    Opt v = Num(*c, "rate");
    if (Valid(v) && std::find(rates_.begin(), rates_.end(), *v) == rates_.end()) {
      rates_.push_back(*v);
    }
  }
  std::sort(rates_.begin(), rates_.end());
  const json& cont = Get(r_, "contention");
  for (const json& c : Arr(cont, "cells")) {
    contention_.push_back(&c);
    NoteApproach(Str(c, "approach"));
    AddSorted(hot_rows_, Num(c, "hot_rows"));
  }
  for (const json& c : Arr(Get(r_, "relay_scaling"), "cells")) {
    scaling_.push_back(&c);
    std::string name = Str(c, "approach");
    if (!name.empty() &&
        std::find(scaling_names_.begin(), scaling_names_.end(), name) == scaling_names_.end()) {
      scaling_names_.push_back(name);
    }
    AddSorted(instances_, Num(c, "instances"));
  }
  const json& failures = Get(r_, "failures");
  for (const json& s : Arr(failures, "scenarios")) {
    std::string name = Str(s, "name");
    if (!name.empty()) scenarios_.push_back({name, &s});
  }
  for (const json& c : Arr(failures, "cells")) {
    fcells_.push_back(&c);
    NoteApproach(Str(c, "approach"));
    std::string s = Str(c, "scenario");
    if (!s.empty() && !Scenario(s)) scenarios_.push_back({s, nullptr});
  }
}

const json& Data::settings() const { return Get(r_, "settings"); }

std::string Data::NotMeasured() const {
  return "not measured in this run" + (schema_.empty() ? "" : " (schema " + schema_ + ")");
}

// An approach that appears in cells but not in `approaches` still gets a row.
// Relay-scaling cells do not add one: that section measures relay strategies
// the run may not compare otherwise.
void Data::NoteApproach(const std::string& name) {
  if (name.empty()) return;
  for (const auto& a : approaches_) {
    if (a.name == name) return;
  }
  approaches_.push_back({name, "", ""});
}

std::string Data::Family(const std::string& name) const {
  for (const auto& a : approaches_) {
    if (a.name == name) return a.family;
  }
  return "";
}

const json* Data::Closed(const std::string& approach, int c) const {
  return Find(closed_, approach, "concurrency", c);
}

std::vector<Fig> Data::Collect(int c, Opt (*get)(const json&), bool include_floor) const {
  std::vector<Fig> out;
  for (const auto& a : approaches_) {
    if (!include_floor && a.family == "floor") continue;
    const json* cell = Closed(a.name, c);
    if (!cell || !Get(*cell, "error").is_null()) continue;
    if (Opt v = get(*cell); Valid(v)) out.push_back({a.name, a.family, *v, cell});
  }
  return out;
}

Opt Data::FloorFigure(int c, Opt (*get)(const json&)) const {
  for (const Fig& f : Collect(c, get, true)) {
    if (f.family == "floor" && f.value > 0) return f.value;
  }
  return std::nullopt;
}

std::vector<const json*> Data::OpenSeries(const std::string& approach) const {
  std::vector<const json*> out;
  for (const json* c : open_) {
    if (Str(*c, "approach") == approach) out.push_back(c);
  }
  std::stable_sort(out.begin(), out.end(), [](const json* a, const json* b) {
    return Num(*a, "rate").value_or(0) < Num(*b, "rate").value_or(0);
  });
  return out;
}

const json* Data::GridCell(const std::string& approach, double rate) const {
  return Find(grid_, approach, "rate", rate);
}

Opt Data::SustainableRate(const std::string& approach) const {
  return Num(Get(Get(r_, "rate_grid"), "sustainable", approach.c_str()), "rate_per_s");
}

Opt Data::FirstUnsustained(const std::string& approach) const {
  return Num(Get(Get(r_, "rate_grid"), "sustainable", approach.c_str()), "first_unsustained_per_s");
}

const json* Data::FirstUnsustainedCell(const std::string& approach) const {
  Opt rate = FirstUnsustained(approach);
  return Valid(rate) ? GridCell(approach, *rate) : nullptr;
}

const json* Data::ContentionCell(const std::string& approach, int n) const {
  return Find(contention_, approach, "hot_rows", n);
}

const json* Data::ScalingCell(const std::string& approach, int k) const {
  return Find(scaling_, approach, "instances", k);
}

const json* Data::Scenario(const std::string& name) const {
  for (const auto& s : scenarios_) {
    if (s.first == name) return s.second ? s.second : &jv::Null();
  }
  return nullptr;
}

const json* Data::FailureCell(const std::string& scenario, const std::string& approach) const {
  for (const json* cell : fcells_) {
    if (Str(*cell, "scenario") == scenario && Str(*cell, "approach") == approach) return cell;
  }
  return nullptr;
}

std::vector<const json*> Data::Ran(const std::string& scenario) const {
  std::vector<const json*> out;
  for (const auto& a : approaches_) {
    const json* c = FailureCell(scenario, a.name);
    if (c && Str(*c, "status") == "ran") out.push_back(c);
  }
  return out;
}

std::string Data::NotRun(const std::string& scenario) const {
  std::vector<std::string> parts;
  for (const auto& a : approaches_) {
    const json* c = FailureCell(scenario, a.name);
    if (!c) continue;
    std::string status = Str(*c, "status");
    if (status == "ran") continue;
    std::string reason = Str(*c, "reason");
    parts.push_back(Code(a.name) + " (" + (status.empty() ? "unknown status" : status) +
                    (reason.empty() ? "" : ": " + reason) + ")");
  }
  return Join(parts, ", ");
}

Opt Data::FaultSeconds(const std::string& scenario) const {
  if (const json* s = Scenario(scenario)) {
    if (Opt f = Num(*s, "fault_s"); Valid(f)) return f;
  }
  for (const json* c : Ran(scenario)) {
    Opt start = Num(*c, "fault", "start_s");
    Opt end = Num(*c, "fault", "end_s");
    if (Valid(start) && Valid(end)) return *end - *start;
  }
  return std::nullopt;
}

Opt Data::FailureRate() const {
  if (Opt r = Num(settings(), "failure_rate_per_s"); Valid(r)) return r;
  for (const json* c : fcells_) {
    if (Opt r = Num(*c, "offered_rate_per_s"); Valid(r)) return r;
  }
  return std::nullopt;
}

Opt OfferedDuringFault(const json& c) {
  if (Opt o = Num(c, "ops", "offered"); Valid(o)) return o;
  return Num(c, "ops", "attempted");
}

Opt Availability(const json& c) {
  if (Opt a = Num(c, "ops", "availability"); Valid(a)) return a;
  Opt offered = OfferedDuringFault(c);
  Opt ok = Num(c, "ops", "succeeded");
  if (Valid(offered) && Valid(ok) && *offered > 0) return *ok / *offered;
  return std::nullopt;
}

Opt P99OkDuringFault(const json& c) {
  if (c.is_object() && c.contains("p99_ok_during_ms")) return Num(c, "p99_ok_during_ms");
  return Num(c, "p99_during_ms");
}

Opt BacklogPeak(const json& c) {
  Opt peak;
  for (const json& p : Arr(c, "backlog")) {
    Opt rows = Num(p, "rows");
    if (Valid(rows) && (!peak || *rows > *peak)) peak = rows;
  }
  return peak;
}

}  // namespace dw::compare::rpt
