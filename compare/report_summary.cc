// "In short": the answer first. Every bullet is computed from the figures
// and carries its own caveat; a difference between two approaches is called
// real only where their repetitions' ranges do not overlap.
#include <algorithm>
#include <map>

#include "compare/report_sections.h"

namespace dw::compare::rpt {
namespace {

using results::Percentiles;
using results::Ranges;

std::string NoiseClause(const std::vector<std::string>& names) {
  return names.empty() ? "" : " (within noise of " + List(names) + ")";
}

const Fig* Best(const std::vector<Fig>& figs, const std::string& family, bool lowest) {
  const Fig* best = nullptr;
  for (const Fig& f : figs) {
    if (f.family != family) continue;
    if (!best || (lowest ? f.value < best->value : f.value > best->value)) best = &f;
  }
  return best;
}

std::string Commit(const Data& d) {
  int c = d.MinConcurrency();
  auto figs = d.Collect(c, P50, false);
  const Fig* best = MinFig(figs);
  if (!best) return "";
  const LoadCell& j = *best->cell;
  std::string t = "**Fastest commit:** " + Code(best->approach) + ", business latency p50 " +
                  Ms(best->value) + " ms, p99 " + Ms(P99(j)) + " ms at concurrency " +
                  std::to_string(c) +
                  (RangeOf(j, &Ranges::latency_p50_ms)
                       ? NoiseClause(WithinNoise(*best, figs, &Ranges::latency_p50_ms))
                       : " (one run each, noise not judged)");
  if (Opt floor = d.FloorFigure(c, P50); Valid(floor)) {
    t += "; the floor, which sends no message, " + Ms(floor) + " ms";
  }
  const std::string other = best->family == "2pc" ? "outbox" : "2pc";
  if (const Fig* o = Best(figs, other, true)) {
    t += ". Fastest of " + FamilyTitle(other) + ": " + Code(o->approach) + ", " + Ms(o->value) +
         " ms (" + Ratio(o->value / best->value) + " the latency, " +
         SeparationText(Separate(j, *o->cell, &Ranges::latency_p50_ms)) + ")";
  }
  if (best->family == "outbox" && Valid(E2eP50(j))) {
    t += ". Caveat: the outbox acknowledges before the relay delivers; the message was read " +
         Ms(E2eP50(j)) + " ms (e2e p50) after the start";
  }
  const Opt lag = Num(j.projection_lag_ms, &Percentiles::p50);
  if (best->family == "event-sourced" && Valid(lag)) {
    t += ". Caveat: event sourcing acknowledges once the broker has the event; the read model "
         "had its row " +
         Ms(lag) + " ms (projection lag p50) later";
  }
  return t + ".";
}

std::string Sustain(const Data& d) {
  if (!d.has_grid()) {
    std::string t = "**Highest sustainable rate:** " + d.NotMeasured();
    auto thr = d.Collect(d.MaxConcurrency(), Business, false);
    if (const Fig* b = MaxFig(thr)) {
      t += "; the highest closed-loop business throughput was " + Code(b->approach) + "'s, " +
           Int(b->value) + "/s at concurrency " + std::to_string(d.MaxConcurrency()) +
           ", which says nothing about delivery";
    }
    return t + ".";
  }
  std::map<double, std::vector<std::string>, std::greater<>> groups;
  std::string floor;
  for (const auto& a : d.approaches()) {
    Opt r = d.SustainableRate(a.name);
    if (!Valid(r)) continue;
    if (a.family == "floor") {
      floor = "; the floor " + Int(r) + "/s";
    } else {
      groups[*r].push_back(a.name);
    }
  }
  if (groups.empty())
    return "**Highest sustainable rate:** no approach sustained any rate of the grid.";
  auto names = [](const std::vector<std::string>& v) {
    std::vector<std::string> out;
    for (const auto& n : v) out.push_back(Code(n));
    return List(out);
  };
  auto it = groups.begin();
  std::string t = "**Highest sustainable rate:** " + names(it->second) + ", " + Int(it->first) +
                  "/s on the common grid";
  if (it->second.size() == 1) {
    if (const LoadCell* c = d.FirstUnsustainedCell(it->second.front())) {
      t += " (not " + Int(Num(c->rate)) + "/s: " + SustainFailures(*c) + ")";
    }
  }
  std::vector<std::string> rest;
  for (++it; it != groups.end(); ++it)
    rest.push_back(names(it->second) + " " + Int(it->first) + "/s");
  if (!rest.empty()) t += ". Then " + Join(rest, "; ");
  Opt bound = d.GridBoundMs();
  return t + floor + ". Sustained: at least 99% of the offered operations committed, e2e p99 " +
         "and drain under " + Ms(bound) + " ms, a backlog that gained no more over the cell than " +
         Ms(bound) +
         " ms of arrivals; a limit lies between the last rate sustained and the next "
         "step of the grid.";
}

// Cells where the commit kept up with the offered rate but delivery did not.
std::string DeliveryLimit(const Data& d) {
  std::vector<std::string> who;
  const Opt bound = d.GridBoundMs();
  for (const auto& a : d.approaches()) {
    const LoadCell* c = DeliveryLimitedCell(d, a.name, bound);
    if (!c) continue;
    who.push_back("At " + Int(Num(c->rate)) + "/s " + Code(a.name) + " committed " +
                  Percent(*Num(c->achieved_fraction)) +
                  " of the offered operations (business p99 " + Ms(P99(*c)) +
                  " ms) but did not sustain the rate (" + SustainFailures(*c) + ").");
  }
  if (who.empty()) return "";
  return "**Committing is not delivering:** " + Join(who, " ") + " The bound is " + Ms(bound) +
         " ms: business latency alone would have called these rates kept up.";
}

std::string CostBullet(const Data& d) {
  int c = d.MaxConcurrency();
  auto cpu = d.Collect(c, CpuTotal, true);
  auto wal = d.Collect(c, Wal, true);
  // "lo–hi unit" over one family's figures, or "".
  auto span = [](const std::vector<Fig>& figs, const std::string& family, std::string (*fmt)(Opt),
                 const char* unit) {
    std::optional<Span> s;
    for (const Fig& f : figs) {
      if (f.family != family) continue;
      if (!s) s = Span{f.value, f.value};
      s->lo = std::min(s->lo, f.value);
      s->hi = std::max(s->hi, f.value);
    }
    return s ? SpanText(s->lo, s->hi, fmt) + unit : std::string();
  };
  std::vector<std::string> families;
  for (const std::string f : {"floor", "outbox", "2pc"}) {
    std::vector<std::string> v;
    for (std::string x : {span(cpu, f, Us, " µs"), span(wal, f, Int, " B")}) {
      if (!x.empty()) v.push_back(x);
    }
    if (!v.empty()) families.push_back(FamilyTitle(f) + " " + Join(v, ", "));
  }
  if (families.empty()) return "";
  std::string t = "**Cost per operation at concurrency " + std::to_string(c) + "** (" +
                  (cpu.empty() ? "WAL" : "CPU of all parties, WAL") + "): " + Join(families, "; ");
  std::vector<Fig> sending;
  for (const Fig& f : cpu) {
    if (f.family != "floor") sending.push_back(f);
  }
  if (const Fig* lo = MinFig(sending)) {
    t += ". Cheapest that sends a message: " + Code(lo->approach) + ", " + Us(lo->value) + " µs" +
         NoiseClause(WithinNoise(*lo, sending, &Ranges::cpu_total_us_per_op));
  }
  if (cpu.empty()) t += ". CPU " + d.NotMeasured();
  auto busy = BusyShare(d, c);
  if (busy && busy->lo >= kCpuBound) {
    t += ". The parties share the same cores, so throughput follows total CPU per operation";
  }
  return t + ".";
}

std::string Faults(const Data& d, const std::string& family) {
  std::string body = FamilyUnderFaults(d, family);
  if (body.empty()) return "";
  Opt rate = d.FailureRate();
  std::string t = "**" + Capitalized(FamilyTitle(family)) + " under faults" +
                  (Valid(rate) ? " (" + Int(rate) + "/s offered)" : std::string()) + ":** " + body +
                  ".";
  if (family == "2pc") {
    t += " Caveat: a prepared transaction keeps its row locks until it is resolved.";
  } else if (family == "outbox") {
    std::vector<std::string> unsafe;
    for (const auto& a : d.approaches()) {
      if (a.family != family) continue;
      for (const FailureCell* c : d.failure_cells()) {
        if (Str(c->approach) == a.name && c->guaranteed && !*c->guaranteed) {
          unsafe.push_back(Code(a.name));
          break;
        }
      }
    }
    t += " Caveat: consumers see the message only after the relay sent it";
    if (!unsafe.empty()) t += "; " + List(unsafe) + " promises no atomicity and loses messages";
    t += ".";
  } else if (family == "saga") {
    t += " Caveat: an order is visible as 'pending' before its event exists, and may still be "
         "cancelled.";
  } else if (family == "event-sourced") {
    t += " Caveat: the read model lags the broker; with the broker down, writes fail.";
  } else if (family == "3pc") {
    t += " Caveat: it does not block when the coordinator dies, but under a partition the two "
         "sides terminate differently and atomicity is lost (expected: Skeen's rule assumes a "
         "network that does not split).";
  }
  return t;
}

std::string Verdicts(const Data& d) {
  int ran = 0, clean = 0;
  std::vector<std::string> violations;
  std::vector<const FailureCell*> losses;
  for (const FailureCell* c : d.failure_cells()) {
    if (Str(c->status) != "ran" || Str(c->verdict) == "not-run") continue;
    ++ran;
    std::string v = Str(c->verdict);
    clean += v == "clean";
    if (v == "violations") {
      violations.push_back(Code(Str(c->approach)) + " under `" + Str(c->scenario) + "`");
    }
    if (v == "expected-loss") losses.push_back(c);
  }
  if (ran == 0) return "";
  if (!violations.empty()) {
    return "**ATOMICITY VIOLATED:** " + List(violations) +
           ": an approach that promises atomicity failed verify or the history check (a bug; "
           "section 2).";
  }
  std::string t = "**Verdict:** " + std::to_string(clean) + " of " + std::to_string(ran) +
                  " failure cells clean; every approach that promises atomicity kept it";
  if (!losses.empty()) t += "; " + LossesByApproach(losses);
  return t + ".";
}

}  // namespace

std::string RenderSummary(const Data& d) {
  std::vector<std::string> bullets;
  // A broken guarantee outranks every performance figure.
  std::string verdict = Verdicts(d);
  bool violated = verdict.rfind("**ATOMICITY", 0) == 0;
  if (violated) bullets.push_back(verdict);
  std::vector<std::string> parts = {Commit(d), Sustain(d), DeliveryLimit(d), CostBullet(d)};
  for (const std::string& family : SendingFamilies()) parts.push_back(Faults(d, family));
  for (const std::string& b : parts) {
    if (!b.empty()) bullets.push_back(b);
  }
  if (!violated && !verdict.empty()) bullets.push_back(verdict);
  std::string out = "## In short\n\n";
  if (bullets.empty()) return out + "There is nothing measured to summarise.\n\n";
  for (const auto& b : bullets) out += "- " + b + "\n";
  return out + "\n";
}

}  // namespace dw::compare::rpt
