// Section 1 plots: latency CDFs, throughput vs concurrency, latency vs
// offered rate (the version-2 rate grid, or version 1's open loop at
// fractions of each approach's saturation), contention and relay scaling.
#include <algorithm>
#include <tuple>

#include "compare/json_view.h"
#include "compare/plot_model.h"

namespace dw::compare::plot {
namespace {

using jv::Arr;
using jv::Get;
using jv::Num;
using jv::Str;
using nlohmann::json;

// Closed-loop load cells of `list`, findable by approach and an x value.
struct Cells {
  std::vector<const json*> cells;
  std::vector<double> xs;  // the distinct x values, sorted
  const char* key;

  Cells(const json& list, const char* x_key, bool closed) : key(x_key) {
    static const json none = json::array();
    for (const json& c : list.is_array() ? list : none) {
      if (closed && Str(c, "mode") == "open") continue;
      cells.push_back(&c);
      if (auto x = Num(c, key); x && std::find(xs.begin(), xs.end(), *x) == xs.end()) {
        xs.push_back(*x);
      }
    }
    std::sort(xs.begin(), xs.end());
  }
  const json* At(const std::string& approach, double x) const {
    for (const json* c : cells) {
      if (Str(*c, "approach") == approach && Num(*c, key) == Opt(x)) return c;
    }
    return nullptr;
  }
};

// Points of `figure` (a number, or an object member `figure.sub`) of an
// approach's cells along x, with error bars from `range_key` when present.
Series Along(const Context& c, const Cells& cells, const std::string& approach, bool secondary,
             const char* figure, const char* sub, const char* range_key, bool positive) {
  Series s = NewSeries(c, approach, secondary);
  for (double x : cells.xs) {
    const json* cell = cells.At(approach, x);
    if (!cell) continue;
    Opt y = sub ? Num(*cell, figure, sub) : Num(*cell, figure);
    if (!y || (positive && *y <= 0)) continue;
    Point p{x, *y};
    if (range_key && Range(Get(*cell, "range", range_key), &p)) s.errorbars = true;
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
  for (const auto& [key, stem, what] :
       {std::tuple<const char*, const char*, const char*>{"cdf", "latency-cdf",
                                                          "Business-operation latency CDF"},
        {"e2e_cdf", "e2e-cdf", "End-to-end latency CDF (start to message read)"}}) {
    Panel p;
    p.xlabel = "latency, ms (log scale)";
    p.ylabel = "fraction of operations";
    p.logx = true;
    p.yrange = "[0:1]";
    Fill fill = [&, key = key](const std::string& a, size_t, Panel* panel) {
      const json* cell = closed.At(a, top);
      if (!cell) return;
      Series s = NewSeries(c, a);
      s.lines_only = true;
      s.points = Pairs(Get(*cell, key), true);
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
  for (const json* x : closed.cells) delivered |= Num(*x, "delivered_per_s").has_value();
  if (delivered) {
    p.notes = {{"solid: business (acknowledged)", "#000000", 1},
               {"dashed: delivered (message readable)", "#000000", 2}};
  }
  Fill fill = [&](const std::string& a, size_t, Panel* panel) {
    AddSeries(panel,
              Along(c, closed, a, false, "throughput_per_s", nullptr, "throughput_per_s", false));
    AddSeries(panel,
              Along(c, closed, a, true, "delivered_per_s", nullptr, "delivered_per_s", false));
  };
  std::string what = delivered ? "Business and delivered throughput" : "Throughput";
  AddFamilyPlot(c, {{"throughput", what + " vs concurrency (closed loop)"}, 1, {}, std::nullopt},
                {p}, fill, plots);
}

// Version 1: each approach at fractions of its own saturation.
void AddOpenLoop(const Context& c, std::vector<Plot>* plots) {
  Cells open(Get(c.r, "open_loop"), "rate", false);
  if (open.xs.empty()) return;
  Panel p;
  p.xlabel = "offered operations per second";
  p.ylabel = "latency, ms (log scale)";
  p.logy = true;
  p.notes = {{"solid: p99", "#000000", 1}, {"dashed: p50", "#000000", 2}};
  p.reference_what = "p99";
  Fill fill = [&](const std::string& a, size_t, Panel* panel) {
    AddSeries(panel, Along(c, open, a, false, "latency_ms", "p99", nullptr, true));
    AddSeries(panel, Along(c, open, a, true, "latency_ms", "p50", nullptr, true));
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
  const json& grid = Get(c.r, "rate_grid");
  Cells cells(Get(grid, "cells"), "rate", false);
  if (cells.xs.empty()) return;
  Panel p;
  p.xlabel = "offered operations per second (log scale)";
  p.ylabel = "p99 latency, ms (log scale)";
  p.logy = true;
  LogX(cells.xs, &p);
  p.notes = {{"solid: business p99", "#000000", 1}, {"dashed: end-to-end p99", "#000000", 2}};
  p.reference_what = "business p99";
  if (Opt bound = Num(grid, "e2e_bound_ms"); bound && *bound > 0) {
    p.hline = *bound;
    p.hline_note = {"end-to-end bound, " + Fmt(*bound) + " ms", "#8b0000", 4};
  }
  Fill fill = [&](const std::string& a, size_t, Panel* panel) {
    AddSeries(panel, Along(c, cells, a, false, "latency_ms", "p99", nullptr, true));
    AddSeries(panel, Along(c, cells, a, true, "e2e_ms", "p99", nullptr, true));
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
  const json& sec = Get(c.r, "contention");
  Cells cells(Get(sec, "cells"), "hot_rows", true);
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
      AddSeries(panel,
                Along(c, cells, a, false, "throughput_per_s", nullptr, "throughput_per_s", false));
    } else {
      AddSeries(panel, Along(c, cells, a, false, "latency_ms", "p99", "latency_p99_ms", true));
    }
  };
  std::string at;
  if (Opt conc = Num(sec, "concurrency")) at = ", concurrency " + Fmt(*conc);
  AddFamilyPlot(c,
                {{"contention", "Throughput and p99 vs hot rows (closed loop" + at + ")"},
                 2,
                 {},
                 std::nullopt},
                {tput, lat}, fill, plots);
}

void AddRelayScaling(const Context& c, std::vector<Plot>* plots) {
  Cells cells(Get(Get(c.r, "relay_scaling"), "cells"), "instances", true);
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
  p.notes = {{"solid: delivered (message readable)", "#000000", 1},
             {"dashed: business (acknowledged)", "#000000", 2}};
  for (const auto& a : c.order) {
    AddSeries(&p, Along(c, cells, a, false, "delivered_per_s", nullptr, "delivered_per_s", false));
    AddSeries(&p, Along(c, cells, a, true, "throughput_per_s", nullptr, "throughput_per_s", false));
  }
  plot.panels.push_back(std::move(p));
  AddPlot(plots, std::move(plot));
}

}  // namespace

void AddLoadPlots(const Context& c, std::vector<Plot>* plots) {
  Cells closed(Get(c.r, "latency"), "concurrency", true);
  AddCdfs(c, closed, plots);
  if (!closed.xs.empty()) AddThroughput(c, closed, plots);
  AddOpenLoop(c, plots);
  AddRateGrid(c, plots);
  AddContention(c, plots);
  AddRelayScaling(c, plots);
}

}  // namespace dw::compare::plot
