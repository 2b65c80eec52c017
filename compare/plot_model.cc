#include <algorithm>
#include <cmath>
#include <cstdio>

#include "compare/plot_model.h"

namespace dw::compare::plot {
namespace {

using results::Run;

// Colours per family, each set distinct within itself and from the other
// (so a panel that mixes families still tells them apart) and from the
// floor's grey. Past the end of a palette the dash pattern differs.
const std::vector<std::string>& Palette(const std::string& family) {
  static const std::vector<std::string> two_pc = {"#1f77b4", "#9467bd", "#17becf",
                                                  "#8c564b", "#e377c2", "#393b79"};
  static const std::vector<std::string> outbox = {"#d62728", "#ff7f0e", "#2ca02c",
                                                  "#bcbd22", "#000000", "#7b4173"};
  static const std::vector<std::string> saga = {"#e7298a", "#a6761d"};
  // Ochre, not green: lost-* plots put event sourcing next to outbox-offset-naive's green.
  static const std::vector<std::string> event_sourced = {"#e6ab02", "#1b9e77"};
  static const std::vector<std::string> three_pc = {"#6a3d9a", "#b15928"};
  static const std::vector<std::string> other = {"#666600", "#999999"};
  if (family == "2pc") return two_pc;
  if (family == "outbox") return outbox;
  if (family == "saga") return saga;
  if (family == "event-sourced") return event_sourced;
  if (family == "3pc") return three_pc;
  return other;
}

constexpr const char* kFloorGrey = "#7f7f7f";

// The family results.json names, or the one the name implies (files that
// list a cell's approach without describing it).
std::string FamilyOf(const Run& r, const std::string& approach) {
  for (const auto& a : Items(r.approaches)) {
    if (Text(a.name) == approach && !Text(a.family).empty()) return Text(a.family);
  }
  if (approach == "floor") return "floor";
  if (approach.starts_with("2pc")) return "2pc";
  if (approach.starts_with("outbox")) return "outbox";
  if (approach.starts_with("saga")) return "saga";
  if (approach.starts_with("event-sourced")) return "event-sourced";
  if (approach.starts_with("3pc")) return "3pc";
  return "other";
}

std::string FamilyTitle(const std::string& f) {
  if (f == "2pc") return "2PC";
  if (f == "outbox") return "Outbox";
  if (f == "floor") return "Floor";
  if (f == "3pc") return "3PC";
  return f;
}

bool HasOwnSeries(const Panel& p) {
  return std::any_of(p.series.begin(), p.series.end(),
                     [](const Series& s) { return !s.reference; });
}

// Whole decades around [lo, hi], for a log axis.
std::string Decades(double lo, double hi) {
  double a = std::pow(10.0, std::floor(std::log10(lo)));
  double b = std::pow(10.0, std::ceil(std::log10(hi)));
  if (b <= a) b = a * 10;
  return "[" + Fmt(a) + ":" + Fmt(b) + "]";
}

// The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a
// power of ten) at or above v: a top of the y axis that ends on a tic.
double NiceAbove(double v) {
  double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

// The panels of a column share their autoscaled log axes, and a linear y
// axis from 0: a 2PC panel and an outbox panel read against the same scale.
void ShareAxes(Plot* p) {
  size_t cols = static_cast<size_t>(p->cols);
  for (size_t col = 0; col < cols; ++col) {
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = col; i < p->panels.size(); i += cols) {
      if (Opt h = p->panels[i].hline; h && *h > 0) {
        ylo = std::min(ylo, *h);  // the bound stays on the axis
        yhi = std::max(yhi, *h);
      }
      for (const Series& s : p->panels[i].series) {
        for (const Point& pt : s.points) {
          if (!std::isfinite(pt.x) || !std::isfinite(pt.y)) continue;
          if (pt.x > 0) xlo = std::min(xlo, pt.x), xhi = std::max(xhi, pt.x);
          double top = s.errorbars && std::isfinite(pt.hi) ? std::max(pt.hi, pt.y) : pt.y;
          double bottom = s.errorbars && std::isfinite(pt.lo) ? std::min(pt.lo, pt.y) : pt.y;
          if (bottom > 0) ylo = std::min(ylo, bottom);
          yhi = std::max(yhi, top);
        }
      }
    }
    for (size_t i = col; i < p->panels.size(); i += cols) {
      Panel& panel = p->panels[i];
      if (panel.logx && panel.xrange.empty() && xhi > 0) panel.xrange = Decades(xlo, xhi);
      if (panel.logy && panel.yrange.empty() && yhi > 0 && std::isfinite(ylo)) {
        panel.yrange = Decades(ylo, yhi);
      }
      if (!panel.logy && panel.yrange == "[0:*]" && yhi > 0) {
        panel.yrange = "[0:" + Fmt(NiceAbove(yhi * 1.04)) + "]";
      }
    }
  }
}

}  // namespace

Context MakeContext(const Run& r) {
  Context c{r, {}, {}, {}, {}, {}};
  auto note = [&](const std::string& n) {
    if (!n.empty() && std::find(c.order.begin(), c.order.end(), n) == c.order.end()) {
      c.order.push_back(n);
    }
  };
  for (const auto& a : Items(r.approaches)) note(Text(a.name));
  auto cells = [&](const results::Field<std::vector<results::LoadCell>>& list) {
    for (const auto& x : Items(list)) note(Text(x.approach));
  };
  cells(r.latency);
  cells(r.open_loop);
  if (r.rate_grid) cells(r.rate_grid->cells);
  if (r.contention) cells(r.contention->cells);
  if (r.relay_scaling) cells(r.relay_scaling->cells);
  if (r.failures) {
    for (const auto& x : Items(r.failures->cells)) note(Text(x.approach));
  }

  std::map<std::string, size_t> used;  // family -> colours handed out
  for (const auto& a : c.order) {
    std::string f = FamilyOf(r, a);
    c.family[a] = f;
    if (f == "floor") {
      c.color[a] = kFloorGrey;
      c.dash[a] = 1;
      continue;
    }
    if (std::find(c.families.begin(), c.families.end(), f) == c.families.end()) {
      c.families.push_back(f);
    }
    const auto& pal = Palette(f);
    size_t i = used[f]++;
    c.color[a] = pal[i % pal.size()];
    c.dash[a] = 1 + static_cast<int>(i / pal.size()) * 3;  // 4, 7...: neither 2 nor 3
  }
  // 2PC above the outbox, the order the report discusses them in.
  std::stable_sort(c.families.begin(), c.families.end(), [](const auto& a, const auto& b) {
    auto rank = [](const std::string& f) { return f == "2pc" ? 0 : f == "outbox" ? 1 : 2; };
    return rank(a) < rank(b);
  });
  return c;
}

Series NewSeries(const Context& c, const std::string& approach, bool secondary) {
  Series s;
  s.title = approach;
  auto col = c.color.find(approach);
  s.color = col == c.color.end() ? "#000000" : col->second;
  auto d = c.dash.find(approach);
  s.dash = secondary ? 2 : (d == c.dash.end() ? 1 : d->second);
  s.key = !secondary;
  return s;
}

void AddSeries(Panel* p, Series s) {
  // A series without a single drawable point would leave an empty block
  // that the script still names; it is left out instead.
  bool any = std::any_of(s.points.begin(), s.points.end(), [](const Point& pt) {
    return std::isfinite(pt.x) && std::isfinite(pt.y);
  });
  if (any) p->series.push_back(std::move(s));
}

void AddPlot(std::vector<Plot>* plots, Plot p) {
  p.cols = 1;
  p.panels.erase(std::remove_if(p.panels.begin(), p.panels.end(),
                                [](const Panel& x) { return !HasOwnSeries(x); }),
                 p.panels.end());
  if (!p.panels.empty()) plots->push_back(std::move(p));
}

void AddFamilyPlot(const Context& c, Plot proto, const std::vector<Panel>& columns,
                   const Fill& fill, std::vector<Plot>* plots) {
  proto.cols = static_cast<int>(columns.size());
  proto.panels.clear();
  std::vector<std::string> floors;
  for (const auto& a : c.order) {
    if (c.family.at(a) == "floor") floors.push_back(a);
  }
  std::vector<std::string> rows = c.families;
  if (rows.empty() && !floors.empty()) rows.push_back("floor");
  for (const auto& f : rows) {
    std::vector<Panel> row = columns;
    for (size_t col = 0; col < row.size(); ++col) {
      Panel& p = row[col];
      p.title = FamilyTitle(f) + (p.title.empty() ? "" : ": " + p.title);
      for (const auto& a : c.order) {
        if (c.family.at(a) == f) fill(a, col, &p);
      }
      if (f == "floor") continue;
      for (const auto& a : floors) {
        size_t before = p.series.size();
        fill(a, col, &p);
        auto second = std::remove_if(p.series.begin() + static_cast<long>(before), p.series.end(),
                                     [](const Series& s) { return !s.key; });
        p.series.erase(second, p.series.end());
        for (size_t i = before; i < p.series.size(); ++i) {
          Series& s = p.series[i];
          s.reference = true;
          s.color = kFloorGrey;
          s.dash = 2;
          s.title += p.reference_what.empty() ? "" : " " + p.reference_what;
        }
      }
    }
    if (std::any_of(row.begin(), row.end(), HasOwnSeries)) {
      for (auto& p : row) proto.panels.push_back(std::move(p));
    }
  }
  if (proto.panels.empty()) return;
  ShareAxes(&proto);
  plots->push_back(std::move(proto));
}

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string Stem(const std::string& s) {
  std::string out;
  for (char ch : s) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-';
    out += ok ? ch : '_';
  }
  return out.empty() ? "unnamed" : out;
}

std::vector<Point> Pairs(const results::Field<std::vector<results::CdfPoint>>& cdf,
                         bool positive_x) {
  std::vector<Point> out;
  for (const auto& p : Items(cdf)) {
    const double x = p.latency_ms, y = p.fraction;
    if (!std::isfinite(x) || !std::isfinite(y) || (positive_x && x <= 0)) continue;
    out.push_back({x, y});
  }
  return out;
}

std::string Tics(const std::vector<double>& xs) {
  std::string t;
  for (double x : xs) t += (t.empty() ? "" : ", ") + Fmt(x);
  return t.empty() ? "" : "(" + t + ")";
}

std::string LogRange(const std::vector<double>& xs) {
  if (xs.empty()) return "";
  auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
  if (*lo <= 0) return "";
  return "[" + Fmt(*lo * 0.75) + ":" + Fmt(*hi * 1.33) + "]";
}

bool Range(const results::Field<results::MinMax>& range, Point* p) {
  if (!range || !std::isfinite(range->min) || !std::isfinite(range->max)) return false;
  p->lo = range->min;
  p->hi = range->max;
  return true;
}

}  // namespace dw::compare::plot
