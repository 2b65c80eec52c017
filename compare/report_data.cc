#include "compare/report_data.h"

#include <algorithm>
#include <cmath>

namespace dw::compare::rpt {
namespace {

void AddSorted(std::vector<int>& v, Opt x) {
  if (!Valid(x)) return;
  int n = static_cast<int>(std::lround(*x));
  if (std::find(v.begin(), v.end(), n) == v.end()) v.push_back(n);
  std::sort(v.begin(), v.end());
}

// The cell of `approach` whose `figure` is `value`.
template <class T>
const LoadCell* Find(const std::vector<const LoadCell*>& cells, const std::string& approach,
                     Field<T> LoadCell::*figure, double value) {
  for (const LoadCell* c : cells) {
    Opt v = Num((*c).*figure);
    if (Str(c->approach) == approach && Valid(v) && std::fabs(*v - value) < 1e-9) return c;
  }
  return nullptr;
}

template <class T>
const std::vector<T>& Items(const Field<std::vector<T>>& f) {
  static const std::vector<T> empty;
  return f ? *f : empty;
}

template <class T>
const T& Part(const Field<T>& f) {
  static const T empty{};
  return f ? *f : empty;
}

}  // namespace

const LoadCell& NoCell() {
  static const LoadCell empty{};
  return empty;
}

Data::Data(results::Run run) : run_(std::move(run)), schema_(Str(run_.schema)) {
  for (const auto& a : Items(run_.approaches)) {
    std::string name = Str(a.name);
    if (!name.empty()) approaches_.push_back({name, Str(a.family), Str(a.description)});
  }
  for (const LoadCell& c : Items(run_.latency)) {
    if (Str(c.mode) == "open") continue;
    closed_.push_back(&c);
    NoteApproach(Str(c.approach));
    AddSorted(concurrency_, Num(c.concurrency));
  }
  for (const LoadCell& c : Items(run_.open_loop)) {
    open_.push_back(&c);
    NoteApproach(Str(c.approach));
  }
  const results::RateGrid& grid = Part(run_.rate_grid);
  for (const LoadCell& c : Items(grid.cells)) {
    grid_.push_back(&c);
    NoteApproach(Str(c.approach));
  }
  for (double x : Items(grid.rates)) {
    if (std::isfinite(x)) rates_.push_back(x);
  }
  // Rates of cells the `rates` list lacks still get a row.
  for (const LoadCell* c : grid_) {
    Opt v = Num(c->rate);
    if (Valid(v) && std::find(rates_.begin(), rates_.end(), *v) == rates_.end()) {
      rates_.push_back(*v);
    }
  }
  std::sort(rates_.begin(), rates_.end());
  for (const LoadCell& c : Items(Part(run_.contention).cells)) {
    contention_.push_back(&c);
    NoteApproach(Str(c.approach));
    AddSorted(hot_rows_, Num(c.hot_rows));
  }
  for (const LoadCell& c : Items(Part(run_.relay_scaling).cells)) {
    scaling_.push_back(&c);
    std::string name = Str(c.approach);
    if (!name.empty() &&
        std::find(scaling_names_.begin(), scaling_names_.end(), name) == scaling_names_.end()) {
      scaling_names_.push_back(name);
    }
    AddSorted(instances_, Num(c.instances));
  }
  const results::Failures& failures = Part(run_.failures);
  for (const ScenarioInfo& s : Items(failures.scenarios)) {
    std::string name = Str(s.name);
    if (!name.empty()) scenarios_.push_back({name, &s});
  }
  for (const FailureCell& c : Items(failures.cells)) {
    fcells_.push_back(&c);
    NoteApproach(Str(c.approach));
    std::string s = Str(c.scenario);
    if (!s.empty() && !HasScenario(s)) scenarios_.push_back({s, nullptr});
  }
}

const results::Machine& Data::machine() const { return Part(run_.machine); }

const results::Settings& Data::settings() const { return Part(run_.settings); }

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

const LoadCell* Data::Closed(const std::string& approach, int c) const {
  return Find(closed_, approach, &LoadCell::concurrency, c);
}

std::vector<Fig> Data::Collect(int c, Opt (*get)(const LoadCell&), bool include_floor) const {
  std::vector<Fig> out;
  for (const auto& a : approaches_) {
    if (!include_floor && a.family == "floor") continue;
    const LoadCell* cell = Closed(a.name, c);
    if (!cell || cell->error.has_value()) continue;
    if (Opt v = get(*cell); Valid(v)) out.push_back({a.name, a.family, *v, cell});
  }
  return out;
}

Opt Data::FloorFigure(int c, Opt (*get)(const LoadCell&)) const {
  for (const Fig& f : Collect(c, get, true)) {
    if (f.family == "floor" && f.value > 0) return f.value;
  }
  return std::nullopt;
}

std::vector<const LoadCell*> Data::OpenSeries(const std::string& approach) const {
  std::vector<const LoadCell*> out;
  for (const LoadCell* c : open_) {
    if (Str(c->approach) == approach) out.push_back(c);
  }
  std::stable_sort(out.begin(), out.end(), [](const LoadCell* a, const LoadCell* b) {
    return Num(a->rate).value_or(0) < Num(b->rate).value_or(0);
  });
  return out;
}

const LoadCell* Data::GridCell(const std::string& approach, double rate) const {
  return Find(grid_, approach, &LoadCell::rate, rate);
}

Opt Data::GridBoundMs() const { return Num(Part(run_.rate_grid).e2e_bound_ms); }

Opt Data::SustainableRate(const std::string& approach) const {
  const auto& s = Part(Part(run_.rate_grid).sustainable);
  auto it = s.find(approach);
  return it == s.end() ? std::nullopt : Num(it->second.rate_per_s);
}

Opt Data::FirstUnsustained(const std::string& approach) const {
  const auto& s = Part(Part(run_.rate_grid).sustainable);
  auto it = s.find(approach);
  return it == s.end() ? std::nullopt : Num(it->second.first_unsustained_per_s);
}

const LoadCell* Data::FirstUnsustainedCell(const std::string& approach) const {
  Opt rate = FirstUnsustained(approach);
  return Valid(rate) ? GridCell(approach, *rate) : nullptr;
}

const LoadCell* Data::ContentionCell(const std::string& approach, int n) const {
  return Find(contention_, approach, &LoadCell::hot_rows, n);
}

Opt Data::ContentionConcurrency() const { return Num(Part(run_.contention).concurrency); }

const LoadCell* Data::ScalingCell(const std::string& approach, int k) const {
  return Find(scaling_, approach, &LoadCell::instances, k);
}

bool Data::HasScenario(const std::string& name) const {
  for (const auto& s : scenarios_) {
    if (s.first == name) return true;
  }
  return false;
}

const FailureCell* Data::Failure(const std::string& scenario, const std::string& approach) const {
  for (const FailureCell* cell : fcells_) {
    if (Str(cell->scenario) == scenario && Str(cell->approach) == approach) return cell;
  }
  return nullptr;
}

std::vector<const FailureCell*> Data::Ran(const std::string& scenario) const {
  std::vector<const FailureCell*> out;
  for (const auto& a : approaches_) {
    const FailureCell* c = Failure(scenario, a.name);
    if (c && Str(c->status) == "ran") out.push_back(c);
  }
  return out;
}

std::string Data::NotRun(const std::string& scenario) const {
  std::vector<std::string> parts;
  for (const auto& a : approaches_) {
    const FailureCell* c = Failure(scenario, a.name);
    if (!c) continue;
    std::string status = Str(c->status);
    if (status == "ran") continue;
    std::string reason = Str(c->reason);
    parts.push_back(Code(a.name) + " (" + (status.empty() ? "unknown status" : status) +
                    (reason.empty() ? "" : ": " + reason) + ")");
  }
  return Join(parts, ", ");
}

Opt Data::FaultSeconds(const std::string& scenario) const {
  for (const auto& [name, info] : scenarios_) {
    if (name != scenario || !info) continue;
    if (Opt f = Num(info->fault_s); Valid(f)) return f;
  }
  for (const FailureCell* c : Ran(scenario)) {
    Opt start = Num(c->fault, &results::FaultWindow::start_s);
    Opt end = Num(c->fault, &results::FaultWindow::end_s);
    if (Valid(start) && Valid(end)) return *end - *start;
  }
  return std::nullopt;
}

Opt Data::FailureRate() const {
  if (Opt r = Num(settings().failure_rate_per_s); Valid(r)) return r;
  for (const FailureCell* c : fcells_) {
    if (Opt r = Num(c->offered_rate_per_s); Valid(r)) return r;
  }
  return std::nullopt;
}

const results::OrderPerKey* Data::order_per_key() const {
  return run_.order_per_key ? &*run_.order_per_key : nullptr;
}

Opt OfferedDuringFault(const FailureCell& c) {
  if (Opt o = Num(c.ops, &results::Ops::offered); Valid(o)) return o;
  return Num(c.ops, &results::Ops::attempted);
}

Opt Availability(const FailureCell& c) {
  if (Opt a = Num(c.ops, &results::Ops::availability); Valid(a)) return a;
  Opt offered = OfferedDuringFault(c);
  Opt ok = Num(c.ops, &results::Ops::succeeded);
  if (Valid(offered) && Valid(ok) && *offered > 0) return *ok / *offered;
  return std::nullopt;
}

Opt P99OkDuringFault(const FailureCell& c) {
  if (c.p99_ok_during_ms.present()) return Num(c.p99_ok_during_ms);
  return Num(c.p99_during_ms);
}

Opt BacklogPeak(const FailureCell& c) {
  Opt peak;
  if (!c.backlog) return peak;
  for (const results::BacklogPoint& p : *c.backlog) {
    Opt rows = Num(p.rows);
    if (Valid(rows) && (!peak || *rows > *peak)) peak = rows;
  }
  return peak;
}

}  // namespace dw::compare::rpt
