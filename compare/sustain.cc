#include "compare/sustain.h"

#include <cmath>
#include <cstdio>

namespace dw::compare {
namespace {

using results::Field;

// Shortest text of a rounded figure ("339", "99.6", "0.6").
std::string Text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

double Num(const Field<double>& v) { return v ? *v : NAN; }

}  // namespace

std::vector<std::string> SustainFailures(const results::LoadCell& cell, double rate,
                                         double bound_ms, double duration_s) {
  std::vector<std::string> why;
  const double achieved = Num(cell.achieved_fraction);
  if (!(achieved >= 0.99)) {
    why.push_back("committed " + Text(std::round(achieved * 1000) / 10) + "% of the offered");
  }
  const double p99 = cell.latency_ms ? Num(cell.latency_ms->p99) : NAN;
  if (!(p99 < bound_ms)) why.push_back("business p99 " + Text(std::round(p99)) + " ms");
  if (cell.e2e_ms) {
    const double e2e = Num(cell.e2e_ms->p99);
    if (!(e2e < bound_ms)) why.push_back("e2e p99 " + Text(std::round(e2e)) + " ms");
  }
  if (cell.drain_s && *cell.drain_s * 1e3 >= bound_ms) {
    why.push_back("drained " + Text(std::round(*cell.drain_s * 10) / 10) + " s after the load");
  }
  // The backlog sampler's slope is noisy at low rates (a few messages between
  // two quarters of a 4-second cell read as several per second). A backlog
  // matters when what it gained over the load would take longer than the
  // bound to clear at the offered rate: only then does it push messages past
  // the bound, which is what "unbounded" costs a user.
  if (cell.backlog_growth_per_s && duration_s > 0) {
    const double gained = *cell.backlog_growth_per_s * duration_s;
    const double allowed = rate * bound_ms / 1e3;
    if (gained > allowed) {
      why.push_back("backlog grew by " + Text(std::round(gained)) + " in " + Text(duration_s) +
                    " s, more than the " + Text(std::round(allowed)) + " arrivals of " +
                    Text(bound_ms) + " ms");
    }
  }
  return why;
}

std::map<std::string, results::Sustainable> SustainableRates(
    const std::vector<results::LoadCell>& cells) {
  std::map<std::string, results::Sustainable> out;
  for (const results::LoadCell& c : cells) {
    if (!c.approach) continue;
    auto [it, added] = out.try_emplace(*c.approach);
    results::Sustainable& s = it->second;
    if (added) s.rate_per_s = s.first_unsustained_per_s = nullptr;
    if (s.first_unsustained_per_s) continue;  // the approach had left the grid
    const double rate = Num(c.rate);
    if (!std::isfinite(rate)) continue;
    const bool ok = !c.error && c.sustained.value_or(false);
    (ok ? s.rate_per_s : s.first_unsustained_per_s) = rate;
  }
  return out;
}

results::Run Rejudged(results::Run r) {
  if (!r.rate_grid || !r.rate_grid->cells) return r;
  results::RateGrid& grid = *r.rate_grid;
  const results::Settings settings = r.settings ? *r.settings : results::Settings();
  double bound_ms = Num(grid.e2e_bound_ms);
  if (!std::isfinite(bound_ms)) bound_ms = Num(settings.e2e_bound_ms);
  const double duration_s = Num(settings.open_loop_duration_s);
  if (!std::isfinite(bound_ms)) return r;
  for (results::LoadCell& c : *grid.cells) {
    // A cell that could not be judged (it failed before its figures) keeps
    // its null verdict.
    if (!c.sustained) continue;
    const double rate = Num(c.rate);
    if (!std::isfinite(rate)) continue;
    auto why = SustainFailures(c, rate, bound_ms, std::isfinite(duration_s) ? duration_s : 0);
    c.sustained = why.empty();
    c.sustain_failures = why;
  }
  grid.sustainable = SustainableRates(*grid.cells);
  return r;
}

}  // namespace dw::compare
