// Section 2 plots: per failure scenario, availability and the p99 of the
// successes per 250 ms bucket across the fault; messages lost over time
// where a scenario lost any; the outbox backlog while the broker is down.
// Time is relative to the fault start, the fault window is shaded.
#include <algorithm>
#include <cmath>

#include "compare/plot_model.h"

namespace dw::compare::plot {
namespace {

using results::FailureCell;
using results::ScenarioInfo;

template <class T>
const std::vector<T>& None() {
  static const std::vector<T> none;
  return none;
}

struct Failures {
  const std::vector<ScenarioInfo>& listed;  // failures.scenarios
  const std::vector<FailureCell>& cells;    // failures.cells
  std::vector<std::string> scenarios;       // in the order the JSON lists them

  explicit Failures(const results::Run& r)
      : listed(r.failures ? Items(r.failures->scenarios) : None<ScenarioInfo>()),
        cells(r.failures ? Items(r.failures->cells) : None<FailureCell>()) {
    auto note = [&](const std::string& n) {
      if (!n.empty() && std::find(scenarios.begin(), scenarios.end(), n) == scenarios.end()) {
        scenarios.push_back(n);
      }
    };
    for (const auto& s : listed) note(Text(s.name));
    for (const auto& c : cells) note(Text(c.scenario));
  }

  const FailureCell* Cell(const std::string& scen, const std::string& approach) const {
    for (const auto& c : cells) {
      if (Text(c.scenario) == scen && Text(c.approach) == approach && Text(c.status) == "ran") {
        return &c;
      }
    }
    return nullptr;
  }

  Opt FaultLen(const Context& c, const std::string& scen) const {
    for (const auto& a : c.order) {
      if (const FailureCell* x = Cell(scen, a); x && x->fault) {
        Opt s = Val(x->fault->start_s), e = Val(x->fault->end_s);
        if (s && e) return *e - *s;
      }
    }
    for (const auto& s : listed) {
      if (Text(s.name) == scen) return Val(s.fault_s);
    }
    return std::nullopt;
  }
};

const char* kTimeLabel = "seconds from the fault start";

void AddScenario(const Context& c, const Failures& f, const std::string& scen,
                 std::vector<Plot>* plots) {
  // Version 2 counts every arrival of a bucket (`offered`) and takes the p99
  // over the successes; version 1 had neither, so availability there is
  // ok / (ok + failed) of the operations that finished, and p99 is over all.
  bool v2 = false;
  for (const auto& a : c.order) {
    if (const FailureCell* x = f.Cell(scen, a)) {
      for (const auto& b : Items(x->timeline)) v2 |= Val(b.offered).has_value();
    }
  }
  Panel avail, lat;
  avail.title = v2 ? "availability (succeeded / offered; gap: no arrival)"
                   : "succeeded / finished (gap: none finished)";
  avail.xlabel = lat.xlabel = kTimeLabel;
  avail.ylabel = "operations that succeeded, %";
  // A little below 0: a bucket where nothing succeeded is not hidden by the axis.
  avail.yrange = "[-4:105]";
  avail.xfix = lat.xfix = true;
  lat.title = v2 ? "business latency p99 of the successes"
                 : "business latency p99 (successes and failures)";
  lat.ylabel = "p99 latency, ms (log scale)";
  lat.logy = true;
  Fill fill = [&](const std::string& a, size_t col, Panel* panel) {
    const FailureCell* x = f.Cell(scen, a);
    if (!x) return;
    const auto& tl = Items(x->timeline);
    // The bucket width: the timeline's step (250 ms in every version so far).
    double width = 0;
    for (size_t i = 1; i < tl.size(); ++i) {
      double d = Val(tl[i].t_s).value_or(0) - Val(tl[i - 1].t_s).value_or(0);
      if (d > 0 && (width == 0 || d < width)) width = d;
    }
    if (width == 0) width = 0.25;
    Series s = NewSeries(c, a);
    s.lines_only = true;
    for (const auto& b : tl) {
      Opt t = Val(b.t_s);
      if (!t) continue;
      double ok = Val(b.ok).value_or(0);
      Opt y;
      if (col == 0) {
        Opt offered = Val(b.offered);
        double all = offered ? *offered : ok + Val(b.failed).value_or(0);
        if (all > 0) y = 100.0 * ok / all;
      } else if (Opt p99 = Val(b.p99_ms); p99 && *p99 > 0) {
        y = *p99;
      }
      if (y) {
        // Flat across the bucket (its start and its end), so that a bucket
        // between two gaps is still drawn.
        s.points.push_back({*t, *y});
        s.points.push_back({*t + width, *y});
      } else {
        // A bucket without an arrival (or without a success, for p99)
        // breaks the line rather than draw a slope through the outage.
        s.points.push_back({*t, kGap});
      }
    }
    AddSeries(panel, std::move(s));
  };
  std::string what = v2 ? "availability and p99 of the successes" : "success rate and p99";
  AddFamilyPlot(c,
                {{"failure-" + Stem(scen), scen + ": " + what + " per 250 ms (fault shaded)"},
                 2,
                 {},
                 f.FaultLen(c, scen)},
                {avail, lat}, fill, plots);
}

// Lost messages by the intended start of their operation, cumulative, as
// steps across the cell's timeline: 0 until the first bucket that lost any,
// the last count until the timeline ends. An approach that ran and lost
// nothing is drawn flat at 0.
void AddLost(const Context& c, const Failures& f, const std::string& scen,
             std::vector<Plot>* plots) {
  Plot plot{
      {"lost-" + Stem(scen), scen + ": messages lost, cumulative by intended start (fault shaded)"},
      1,
      {},
      f.FaultLen(c, scen)};
  Panel p;
  p.xlabel = kTimeLabel;
  p.ylabel = "messages lost (cumulative)";
  p.xfix = true;
  double most = 0;
  for (const auto& a : c.order) {
    const FailureCell* x = f.Cell(scen, a);
    if (!x || !x->lost_timeline) continue;
    // NaN when unknown (std::optional trips gcc's maybe-uninitialized here).
    const auto& tl = Items(x->timeline);
    double first = tl.empty() ? kGap : Val(tl.front().t_s).value_or(kGap);
    double last = tl.empty() ? kGap : Val(tl.back().t_s).value_or(kGap);
    Series s = NewSeries(c, a);
    s.steps = true;
    double lost = 0;
    for (const auto& b : *x->lost_timeline) {
      Opt t = Val(b.t_s), n = Val(b.lost);
      if (!t || !n) continue;
      if (s.points.empty() && first < *t) s.points.push_back({first, 0});
      s.points.push_back({*t, *n});
      lost = *n;
    }
    if (s.points.empty() && std::isfinite(first)) s.points.push_back({first, 0});
    if (!s.points.empty() && last > s.points.back().x) s.points.push_back({last, lost});
    most = std::max(most, lost);
    AddSeries(&p, std::move(s));
  }
  if (most <= 0) return;
  // Slightly below 0, so that the lines of approaches that lost nothing
  // are not hidden by the x axis.
  p.yrange = "[" + Fmt(-most * 0.03) + ":" + Fmt(most * 1.08) + "]";
  plot.panels.push_back(std::move(p));
  AddPlot(plots, std::move(plot));
}

void AddBacklog(const Context& c, const Failures& f, std::vector<Plot>* plots) {
  const std::string scen = "broker-down";
  Plot plot{{"backlog-broker-down", "Outbox backlog (unsent rows) during broker-down (shaded)"},
            1,
            {},
            f.FaultLen(c, scen)};
  Panel p;
  p.xlabel = kTimeLabel;
  p.ylabel = "unsent outbox rows";
  p.xfix = true;
  p.yrange = "[0:*]";
  for (const auto& a : c.order) {
    const FailureCell* x = f.Cell(scen, a);
    if (!x) continue;
    Series s = NewSeries(c, a);
    s.lines_only = true;
    for (const auto& b : Items(x->backlog)) {
      Opt t = Val(b.t_s), rows = Val(b.rows);
      if (t && rows) s.points.push_back({*t, *rows});
    }
    AddSeries(&p, std::move(s));
  }
  plot.panels.push_back(std::move(p));
  AddPlot(plots, std::move(plot));
}

}  // namespace

void AddFailurePlots(const Context& c, std::vector<Plot>* plots) {
  Failures f(c.r);
  for (const auto& scen : f.scenarios) AddScenario(c, f, scen, plots);
  for (const auto& scen : f.scenarios) AddLost(c, f, scen, plots);
  AddBacklog(c, f, plots);
}

}  // namespace dw::compare::plot
