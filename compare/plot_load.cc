// Section 1 plots: latency CDFs, throughput vs concurrency, latency vs
// offered rate (the version-2 rate grid, or version 1's open loop at
// fractions of each approach's saturation), contention and relay scaling.
#include <algorithm>
#include <tuple>

#include "compare/plot_model.h"

namespace dw::compare::plot {
namespace {

using results::Field;
using results::LoadCell;
using results::Ranges;

// A number of a load cell the plots draw (x or y).
using Figure = Opt (*)(const LoadCell& c);
const Figure kConcurrency = [](const LoadCell& c) { return Val(c.concurrency); };
const Figure kRate = [](const LoadCell& c) { return Val(c.rate); };
const Figure kHotRows = [](const LoadCell& c) { return Val(c.hot_rows); };
const Figure kInstances = [](const LoadCell& c) { return Val(c.instances); };
const Figure kThroughput = [](const LoadCell& c) { return Val(c.throughput_per_s); };
const Figure kDelivered = [](const LoadCell& c) { return Val(c.delivered_per_s); };
const Figure kP50 = [](const LoadCell& c) { return c.latency_ms ? Val(c.latency_ms->p50) : Opt(); };
const Figure kP99 = [](const LoadCell& c) { return c.latency_ms ? Val(c.latency_ms->p99) : Opt(); };
const Figure kE2eP99 = [](const LoadCell& c) { return c.e2e_ms ? Val(c.e2e_ms->p99) : Opt(); };

// Closed-loop load cells of `list`, findable by approach and an x value.
struct Cells {
  std::vector<const LoadCell*> cells;
  std::vector<double> xs;  // the distinct x values, sorted
  Figure x_of;

  Cells(const Field<std::vector<LoadCell>>& list, Figure x, bool closed) : x_of(x) {
    for (const LoadCell& c : Items(list)) {
      if (closed && Text(c.mode) == "open") continue;
      cells.push_back(&c);
      if (auto v = x_of(c); v && std::find(xs.begin(), xs.end(), *v) == xs.end()) {
        xs.push_back(*v);
      }
    }
    std::sort(xs.begin(), xs.end());
  }
  const LoadCell* At(const std::string& approach, double x) const {
    for (const LoadCell* c : cells) {
      if (Text(c->approach) == approach && x_of(*c) == Opt(x)) return c;
    }
    return nullptr;
  }
};

// The cells of a section that may be missing from the file.
template <class Section>
const Field<std::vector<LoadCell>>& CellsOf(const Field<Section>& section) {
  static const Field<std::vector<LoadCell>> none;
  return section ? section->cells : none;
}

// Points of `figure` of an approach's cells along x, with error bars from
// the cell's `range` member when one is named.
Series Along(const Context& c, const Cells& cells, const std::string& approach, bool secondary,
             Figure figure, Field<results::MinMax> Ranges::*range, bool positive) {
  Series s = NewSeries(c, approach, secondary);
  for (double x : cells.xs) {
    const LoadCell* cell = cells.At(approach, x);
    if (!cell) continue;
    Opt y = figure(*cell);
    if (!y || (positive && *y <= 0)) continue;
    Point p{x, *y};
    if (range && cell->range && Range((*cell->range).*range, &p)) s.errorbars = true;
    s.points.push_back(p);
  }
  return s;
}

// Log x for values that are all positive and more than one.
void LogX(const std::vector<double>& xs, Panel* p) {
  p->xtics = Tics(xs);
  p->logx = xs.size() > 1 && xs.front() > 0;
  if (p->logx) p->xrange = LogRange(xs);
}

void AddCdfs(const Context& c, const Cells& closed, std::vector<Plot>* plots) {
  if (closed.xs.empty()) return;
  double top = closed.xs.back();
  std::string at = " at concurrency " + Fmt(top) + " (closed loop)";
  using Cdf = Field<std::vector<results::CdfPoint>> LoadCell::*;
  for (const auto& [key, stem, what] :
       {std::tuple<Cdf, const char*, const char*>{&LoadCell::cdf, "latency-cdf",
                                                  "Business-operation latency CDF"},
        {&LoadCell::e2e_cdf, "e2e-cdf", "End-to-end latency CDF (start to message read)"}}) {
    Panel p;
    p.xlabel = "latency, ms (log scale)";
    p.ylabel = "fraction of operations";
    p.logx = true;
    p.yrange = "[0:1]";
    Fill fill = [&, key = key](const std::string& a, size_t, Panel* panel) {
      const LoadCell* cell = closed.At(a, top);
      if (!cell) return;
      Series s = NewSeries(c, a);
      s.lines_only = true;
      s.points = Pairs((*cell).*key, true);
      AddSeries(panel, std::move(s));
    };
    AddFamilyPlot(c, {{stem, what + at}, 1, {}, std::nullopt}, {p}, fill, plots);
  }
}

void AddThroughput(const Context& c, const Cells& closed, std::vector<Plot>* plots) {
  Panel p;
  p.xlabel = "concurrency (log scale)";
  p.ylabel = "operations per second";
  p.yrange = "[0:*]";
  LogX(closed.xs, &p);
  if (!p.logx) p.xlabel = "concurrency";
  bool delivered = false;  // version 2
  for (const LoadCell* x : closed.cells) delivered |= kDelivered(*x).has_value();
  if (delivered) {
    p.notes = {{"solid: business (acknowledged)", "#000000", 1},
               {"dashed: delivered (message readable)", "#000000", 2}};
  }
  Fill fill = [&](const std::string& a, size_t, Panel* panel) {
    AddSeries(panel, Along(c, closed, a, false, kThroughput, &Ranges::throughput_per_s, false));
    AddSeries(panel, Along(c, closed, a, true, kDelivered, &Ranges::delivered_per_s, false));
  };
  std::string what = delivered ? "Business and delivered throughput" : "Throughput";
  AddFamilyPlot(c, {{"throughput", what + " vs concurrency (closed loop)"}, 1, {}, std::nullopt},
                {p}, fill, plots);
}

// Version 1: each approach at fractions of its own saturation.
void AddOpenLoop(const Context& c, std::vector<Plot>* plots) {
  Cells open(c.r.open_loop, kRate, false);
  if (open.xs.empty()) return;
  Panel p;
  p.xlabel = "offered operations per second";
  p.ylabel = "latency, ms (log scale)";
  p.logy = true;
  p.notes = {{"solid: p99", "#000000", 1}, {"dashed: p50", "#000000", 2}};
  p.reference_what = "p99";
  Fill fill = [&](const std::string& a, size_t, Panel* panel) {
    AddSeries(panel, Along(c, open, a, false, kP99, nullptr, true));
    AddSeries(panel, Along(c, open, a, true, kP50, nullptr, true));
  };
  AddFamilyPlot(c,
                {{"open-loop-latency", "Business latency p50 and p99 vs offered rate (open loop)"},
                 1,
                 {},
                 std::nullopt},
                {p}, fill, plots);
}

// Version 2: every approach at the same offered rates, until the first it
// could not sustain.
void AddRateGrid(const Context& c, std::vector<Plot>* plots) {
  Cells cells(CellsOf(c.r.rate_grid), kRate, false);
  if (cells.xs.empty()) return;
  Panel p;
  p.xlabel = "offered operations per second (log scale)";
  p.ylabel = "p99 latency, ms (log scale)";
  p.logy = true;
  LogX(cells.xs, &p);
  p.notes = {{"solid: business p99", "#000000", 1}, {"dashed: end-to-end p99", "#000000", 2}};
  p.reference_what = "business p99";
  if (Opt bound = c.r.rate_grid ? Val(c.r.rate_grid->e2e_bound_ms) : Opt(); bound && *bound > 0) {
    p.hline = *bound;
    p.hline_note = {"end-to-end bound, " + Fmt(*bound) + " ms", "#8b0000", 4};
  }
  Fill fill = [&](const std::string& a, size_t, Panel* panel) {
    AddSeries(panel, Along(c, cells, a, false, kP99, nullptr, true));
    AddSeries(panel, Along(c, cells, a, true, kE2eP99, nullptr, true));
  };
  AddFamilyPlot(c,
                {{"rate-grid-latency",
                  "Business and end-to-end latency p99 vs offered rate (open loop, same rates "
                  "for every approach)"},
                 1,
                 {},
                 std::nullopt},
                {p}, fill, plots);
}

void AddContention(const Context& c, std::vector<Plot>* plots) {
  Cells cells(CellsOf(c.r.contention), kHotRows, true);
  if (cells.xs.empty()) return;
  Panel tput, lat;
  tput.title = "throughput";
  tput.xlabel = lat.xlabel = "hot rows: products the orders reserve stock of (log scale)";
  tput.ylabel = "committed operations per second";
  tput.yrange = "[0:*]";
  lat.title = "business latency p99";
  lat.ylabel = "p99 latency, ms (log scale)";
  lat.logy = true;
  LogX(cells.xs, &tput);
  LogX(cells.xs, &lat);
  Fill fill = [&](const std::string& a, size_t col, Panel* panel) {
    if (col == 0) {
      AddSeries(panel, Along(c, cells, a, false, kThroughput, &Ranges::throughput_per_s, false));
    } else {
      AddSeries(panel, Along(c, cells, a, false, kP99, &Ranges::latency_p99_ms, true));
    }
  };
  std::string at;
  if (Opt conc = c.r.contention ? Val(c.r.contention->concurrency) : Opt()) {
    at = ", concurrency " + Fmt(*conc);
  }
  AddFamilyPlot(c,
                {{"contention", "Throughput and p99 vs hot rows (closed loop" + at + ")"},
                 2,
                 {},
                 std::nullopt},
                {tput, lat}, fill, plots);
}

void AddRelayScaling(const Context& c, std::vector<Plot>* plots) {
  Cells cells(CellsOf(c.r.relay_scaling), kInstances, true);
  if (cells.xs.empty()) return;
  Plot plot{{"relay-scaling", "Outbox relay scaling: throughput vs relay instances (closed loop)"},
            1,
            {},
            std::nullopt};
  Panel p;
  p.xlabel = "relay instances";
  p.ylabel = "operations per second";
  p.yrange = "[0:*]";
  p.xtics = Tics(cells.xs);
  p.xrange = "[" + Fmt(cells.xs.front() - 0.25) + ":" + Fmt(cells.xs.back() + 0.25) + "]";
  // The same convention as the throughput plot: solid business, dashed delivered.
  p.notes = {{"solid: business (acknowledged)", "#000000", 1},
             {"dashed: delivered (message readable)", "#000000", 2}};
  for (const auto& a : c.order) {
    AddSeries(&p, Along(c, cells, a, false, kThroughput, &Ranges::throughput_per_s, false));
    AddSeries(&p, Along(c, cells, a, true, kDelivered, &Ranges::delivered_per_s, false));
  }
  plot.panels.push_back(std::move(p));
  AddPlot(plots, std::move(plot));
}

}  // namespace

void AddLoadPlots(const Context& c, std::vector<Plot>* plots) {
  Cells closed(c.r.latency, kConcurrency, true);
  AddCdfs(c, closed, plots);
  if (!closed.xs.empty()) AddThroughput(c, closed, plots);
  AddOpenLoop(c, plots);
  AddRateGrid(c, plots);
  AddContention(c, plots);
  AddRelayScaling(c, plots);
}

}  // namespace dw::compare::plot
