// Section 1 of report.md, open loop and scaling: the common rate grid (or
// version 1's open loop), contention on hot rows, relay scaling.
#include <algorithm>
#include <map>

#include "compare/report_sections.h"

namespace dw::compare::rpt {
namespace {

using results::Percentiles;
using results::Ranges;

std::string Heading(const std::string& title) { return "### " + title + "\n\n"; }

bool HasE2e(const Data& d, const std::string& approach) {
  for (double rate : d.rates()) {
    const LoadCell* c = d.GridCell(approach, rate);
    if (c && Valid(E2eP99(*c))) return true;
  }
  return false;
}

bool Sustained(const LoadCell& c) { return IsTrue(c.sustained); }

std::string Pair(Opt a, Opt b) { return Ms(a) + " / " + Ms(b); }

// Version 1: open loop at fractions of each approach's own saturation, as
// version 1's report showed it.
std::string OpenLoopV1(const Data& d) {
  std::string out = Heading("Open loop at fractions of each approach's saturation (schema 1)");
  out +=
      "Operations arrive at a fixed rate whatever the system does; latency counts from the "
      "intended start (no coordinated omission). Latencies in ms. Each approach had its own "
      "rates, so rows of different approaches do not compare at equal load.\n\n";
  Table t({"approach", "offered/s", "achieved/s", "achieved", "p50", "p99", "p99.9", "e2e p99",
           "verify"},
          {0, 8});
  std::vector<std::string> reading;
  for (const auto& a : d.approaches()) {
    const LoadCell* below = nullptr;
    const LoadCell* short_of = nullptr;
    for (const LoadCell* c : d.OpenSeries(a.name)) {
      Opt rate = Num(c->rate);
      Opt thr = Num(c->throughput_per_s);
      std::string verify = VerifyText(c->verify);
      if (c->error) verify = "error: " + Plain(c->error);
      bool rated = Valid(rate) && Valid(thr) && *rate > 0;
      t.Add({a.name, Int(rate), Int(thr), rated ? Percent(*thr / *rate) : "-", Ms(P50(*c)),
             Ms(P99(*c)), Ms(Num(c->latency_ms, &Percentiles::p999)), Ms(E2eP99(*c)), verify});
      if (!rated || short_of) continue;
      (*thr >= 0.95 * *rate ? below : short_of) = c;
    }
    if (!below && !short_of) continue;
    std::string line = Code(a.name) + ": ";
    line += below ? "committed at least 95% of the offered rate up to " + Int(Num(below->rate)) +
                        "/s (business p99 " + Ms(P99(*below)) + " ms)"
                  : "committed less than 95% of every offered rate";
    if (short_of) {
      Opt rate = Num(short_of->rate);
      Opt thr = Num(short_of->throughput_per_s);
      line += "; at " + Int(rate) + "/s it committed " + Int(thr) + "/s (" + Percent(*thr / *rate) +
              ")";
    }
    reading.push_back(line + ".");
  }
  out += t.Render() + "\n";
  if (!reading.empty()) {
    out += "Reading (business throughput only: delivery was not measured in schema 1):\n\n";
    for (const auto& l : reading) out += "- " + l + "\n";
    out += "\n";
  }
  return out;
}

}  // namespace

std::string SustainFailures(const LoadCell& cell) {
  std::vector<std::string> why;
  if (cell.sustain_failures) why = *cell.sustain_failures;
  return why.empty() ? "not sustained" : Join(why, "; ");
}

const LoadCell* DeliveryLimitedCell(const Data& d, const std::string& approach, Opt bound_ms) {
  const LoadCell* c = d.FirstUnsustainedCell(approach);
  if (!c || !c->e2e_ms || !Valid(bound_ms)) return nullptr;
  Opt achieved = Num(c->achieved_fraction);
  Opt p99 = P99(*c);
  if (!Valid(achieved) || *achieved < 0.99 || !Valid(p99) || *p99 >= *bound_ms) return nullptr;
  return c;
}

std::string SustainableText(const Data& d, const std::string& approach) {
  Opt rate = d.SustainableRate(approach);
  if (Valid(rate)) return Int(rate);
  Opt first = d.FirstUnsustained(approach);
  return Valid(first) ? "none" : "-";
}

std::string RenderRateGrid(const Data& d) {
  if (!d.has_grid()) {
    std::string out = Heading("Common rate grid") + Capitalized(d.NotMeasured()) + ".\n\n";
    if (!d.open_v1().empty()) out += OpenLoopV1(d);
    return out;
  }
  Opt bound = d.GridBoundMs();
  Opt secs = Num(d.settings().open_loop_duration_s);
  // The grid's own cells say how often each ran (the `repetitions` setting
  // is the closed loop's).
  double reps = 0;
  for (double rate : d.rates()) {
    for (const auto& a : d.approaches()) {
      const LoadCell* c = d.GridCell(a.name, rate);
      if (Opt n = c ? Num(c->repetitions) : Opt(); Valid(n)) reps = std::max(reps, *n);
    }
  }
  std::string out = Heading("Common rate grid");
  out +=
      "Every approach is offered the same rates: open loop, arrivals at a fixed rate "
      "whatever the system does, latency from the intended start, so queueing counts; " +
      Secs(secs) + " s per rate" +
      (reps > 1    ? ", medians of " + Int(reps) + " runs"
       : reps == 1 ? ", one run each"
                   : "") +
      ".\n\n";
  out +=
      "Sustained: at least 99% of the offered operations committed, e2e p99 (the floor: "
      "business p99) and drain under " +
      Ms(bound) +
      " ms, and a backlog that gained no more over the cell than the offered rate brings in " +
      Ms(bound) +
      " ms (a smaller gain delays no message past the bound). An approach leaves the grid "
      "after its first rate not sustained.\n\n";
  out +=
      "Cells: business p50 / p99 and e2e p50 / p99 in ms; ✗: not sustained, with the "
      "conditions that failed; —: not run.\n\n";
  std::vector<std::string> header = {"offered /s"};
  std::vector<std::pair<std::string, bool>> cols;  // approach, has e2e
  for (const auto& a : d.approaches()) {
    bool any = false;
    for (double rate : d.rates()) any = any || d.GridCell(a.name, rate);
    if (!any) continue;
    bool e2e = HasE2e(d, a.name);
    cols.push_back({a.name, e2e});
    header.push_back(a.name + " p50 / p99");
    if (e2e) header.push_back(a.name + " e2e p50 / p99");
  }
  Table t(header);
  for (double rate : d.rates()) {
    std::vector<std::string> row = {Int(rate)};
    for (const auto& [name, e2e] : cols) {
      const LoadCell* c = d.GridCell(name, rate);
      if (!c) {
        row.push_back("—");
        if (e2e) row.push_back("—");
        continue;
      }
      std::string mark = Sustained(*c) ? "" : " ✗";
      std::string biz = Pair(P50(*c), P99(*c)) + mark;
      if (c->error) biz = "error: " + Plain(c->error);
      if (!mark.empty()) biz += " (" + SustainFailures(*c) + ")";
      row.push_back(biz);
      if (e2e) row.push_back(Pair(E2eP50(*c), E2eP99(*c)) + mark);
    }
    t.Add(row);
  }
  out += t.Render() + "\n";

  std::vector<std::string> s;
  // Approaches grouped by the highest rate they sustained, best first.
  std::map<double, std::vector<std::string>, std::greater<>> by_rate;
  std::vector<std::string> none;
  for (const auto& [name, e2e] : cols) {
    Opt r = d.SustainableRate(name);
    if (Valid(r)) {
      by_rate[*r].push_back(Code(name));
    } else if (Valid(d.FirstUnsustained(name))) {
      none.push_back(Code(name));
    }
  }
  std::vector<std::string> groups;
  for (const auto& [rate, names] : by_rate) groups.push_back(List(names) + " " + Int(rate) + "/s");
  if (!none.empty()) groups.push_back(List(none) + " none of the rates");
  if (!groups.empty()) s.push_back("Highest rate sustained: " + Join(groups, "; ") + ".");
  // An approach that sustained the last rate it was offered below the top of
  // the grid: the run stopped there (under an earlier verdict), so nothing
  // above it was measured.
  const double top = d.rates().empty() ? 0 : *std::max_element(d.rates().begin(), d.rates().end());
  for (const auto& [name, e2e] : cols) {
    Opt r = d.SustainableRate(name);
    if (!Valid(r) || Valid(d.FirstUnsustained(name)) || *r >= top) continue;
    s.push_back(Code(name) + " sustained " + Int(r) +
                "/s, the highest rate the run offered it: its limit lies above, unmeasured.");
  }
  // Committing kept up, delivering did not: the relay (or the broker) was the
  // limit.
  for (const auto& [name, e2e] : cols) {
    const LoadCell* c = DeliveryLimitedCell(d, name, bound);
    if (!c) continue;
    s.push_back("At " + Int(Num(c->rate)) + "/s " + Code(name) + " committed " +
                Percent(*Num(c->achieved_fraction)) + " of the offered operations (business p99 " +
                Ms(P99(*c)) + " ms) yet did not sustain the rate: " + SustainFailures(*c) +
                ". Delivery, not the commit, was its limit.");
  }
  if (d.rates().size() > 1) {
    s.push_back(
        "Each limit lies between the last rate sustained and the first one not "
        "sustained: the grid's steps are that coarse.");
  }
  for (const auto& l : s) out += "- " + l + "\n";
  return out + "\n";
}

std::string RenderContention(const Data& d) {
  std::string out = Heading("Contention on hot rows");
  if (!d.has_contention() || d.hot_rows().empty()) {
    return out + Capitalized(d.NotMeasured()) + ".\n\n";
  }
  out += "Closed loop at concurrency " + Int(d.ContentionConcurrency()) +
         "; every order also reserves stock (`UPDATE stock SET reserved = reserved + 1 WHERE "
         "product = $1`) for a product drawn from N inside its business transaction. With N = "
         "1 every order waits for the same row lock: 2PC holds it from PREPARE to COMMIT "
         "PREPARED, the floor and the outbox for one local commit. Business throughput /s and "
         "p99 ms, median (min–max).\n\n";
  std::vector<std::string> header = {"approach"};
  for (int n : d.hot_rows()) {
    header.push_back("N=" + std::to_string(n) + " /s");
    header.push_back("N=" + std::to_string(n) + " p99");
  }
  Table t(header);
  std::map<std::string, std::vector<double>> kept;  // family -> throughput(N min) / (N max)
  std::vector<std::string> examples;
  int n_lo = d.hot_rows().front();
  int n_hi = d.hot_rows().back();
  for (const auto& a : d.approaches()) {
    std::vector<std::string> row = {a.name};
    bool any = false;
    for (int n : d.hot_rows()) {
      const LoadCell* c = d.ContentionCell(a.name, n);
      const LoadCell& j = c ? *c : NoCell();
      any = any || c;
      row.push_back(WithRange(Business(j), j, &Ranges::throughput_per_s, Int));
      row.push_back(WithRange(P99(j), j, &Ranges::latency_p99_ms, Ms));
    }
    if (!any) continue;
    t.Add(row);
    const LoadCell* lo = d.ContentionCell(a.name, n_lo);
    const LoadCell* hi = d.ContentionCell(a.name, n_hi);
    Opt t_lo = lo ? Business(*lo) : std::nullopt;
    Opt t_hi = hi ? Business(*hi) : std::nullopt;
    if (n_lo != n_hi && Valid(t_lo) && Valid(t_hi) && *t_hi > 0) {
      kept[a.family].push_back(*t_lo / *t_hi);
    }
  }
  out += t.Render() + "\n";
  std::vector<std::string> parts;
  for (const char* f : {"2pc", "outbox", "floor"}) {
    auto it = kept.find(f);
    if (it == kept.end()) continue;
    auto [mn, mx] = std::minmax_element(it->second.begin(), it->second.end());
    parts.push_back(FamilyTitle(f) + " " + SpanText(*mn, *mx, PercentOpt));
  }
  if (!parts.empty()) {
    out += "- Throughput with N = " + std::to_string(n_lo) +
           " as a share of N = " + std::to_string(n_hi) + ": " + Join(parts, ", ") +
           ". The longer a transaction holds the row lock, the fewer orders per second one row "
           "admits.\n\n";
  }
  return out;
}

std::string RenderRelayScaling(const Data& d) {
  std::string out = Heading("Relay scaling");
  if (!d.has_scaling() || d.instances().empty()) {
    out += Capitalized(d.NotMeasured()) + ".\n\n";
  } else {
    out +=
        "Closed loop with K relay instances sharing one outbox; delivered throughput (messages "
        "readable at the broker per second, until the last one), median (min–max).\n\n";
    std::vector<std::string> header = {"relay"};
    for (int k : d.instances()) {
      header.push_back(std::to_string(k) + (k == 1 ? " instance /s" : " instances /s"));
    }
    Table t(header);
    std::vector<std::string> reading;
    for (const auto& name : d.scaling_approaches()) {
      std::vector<std::string> row = {name};
      const LoadCell* base = d.ScalingCell(name, d.instances().front());
      Opt base_v = base ? Num(base->delivered_per_s) : std::nullopt;
      std::vector<std::string> steps;
      for (int k : d.instances()) {
        const LoadCell* c = d.ScalingCell(name, k);
        const LoadCell& j = c ? *c : NoCell();
        Opt v = Num(j.delivered_per_s);
        row.push_back(WithRange(v, j, &Ranges::delivered_per_s, Int));
        if (c == base || !c || !Valid(v) || !Valid(base_v) || *base_v <= 0) continue;
        Separation sep = Separate(*base, *c, &Ranges::delivered_per_s);
        steps.push_back(Ratio(*v / *base_v) + " with " + std::to_string(k) + " (" +
                        SeparationText(sep) + ")");
      }
      t.Add(row);
      if (!steps.empty()) {
        reading.push_back(Code(name) + " delivered " + Join(steps, ", ") + " of what " +
                          std::to_string(d.instances().front()) + " instance delivered.");
      }
    }
    out += t.Render() + "\n";
    for (const auto& l : reading) out += "- " + l + "\n";
    if (!reading.empty()) out += "\n";
  }
  const auto& relays = d.settings().relays;
  if (relays && !relays->empty()) {
    out += "How each outbox approach's relay was deployed in the other sections:\n\n";
    Table t({"approach", "strategy", "batch", "instances"}, {0, 1});
    for (const auto& [name, r] : *relays) {
      t.Add({name, Str(r.strategy), Int(Num(r.batch)), Int(Num(r.instances))});
    }
    out += t.Render() + "\n";
  }
  return out;
}

}  // namespace dw::compare::rpt
