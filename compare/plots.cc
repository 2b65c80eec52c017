#include "compare/plots.h"

#include "compare/json_view.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <utility>

#include "common/process.h"

namespace dw::compare {
namespace {

using nlohmann::json;
using Opt = std::optional<double>;

// Access that never throws: compare/json_view.h.
using jv::Arr;
using jv::Get;
using jv::Null;
using jv::Num;
using jv::Str;

// ---- What a plot is, before it is written. ----

// A y value that marks a gap in a line (written as a blank line).
constexpr double kGap = std::numeric_limits<double>::quiet_NaN();

struct Series {
  std::string title;
  int color = 1;  // gnuplot linetype colour: one per approach, the same in every plot
  int dash = 1;   // dash type
  std::vector<std::pair<double, double>> points;
};

struct Panel {
  std::string title;  // only shown when a plot has several panels
  std::string xlabel;
  std::string ylabel;
  bool logx = false;
  bool logy = false;
  std::string xrange;  // e.g. "[0.8:20]"; empty: autoscale
  std::string yrange;  // e.g. "[0:1]"; empty: autoscale
  std::string xtics;   // e.g. "(1, 4, 16)"; empty: automatic
  std::vector<Series> series;
};

struct Plot {
  PlotInfo info;
  std::vector<Panel> panels;
  Opt fault_len;  // shade [0, fault_len] on the x axis (time relative to the fault start)
};

// A file stem from a scenario name: the names are already in a safe
// alphabet, but results.json is input, so anything else becomes '_'.
std::string Stem(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  return out.empty() ? "unnamed" : out;
}

// The approaches in report order: those listed, then any only seen in cells.
std::vector<std::string> ApproachOrder(const json& r) {
  std::vector<std::string> out;
  auto note = [&](const std::string& n) {
    if (!n.empty() && std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  };
  for (const json& a : Arr(r, "approaches")) note(Str(a, "name"));
  for (const json& c : Arr(r, "latency")) note(Str(c, "approach"));
  for (const json& c : Arr(r, "open_loop")) note(Str(c, "approach"));
  for (const json& c : Arr(Get(r, "failures"), "cells")) note(Str(c, "approach"));
  return out;
}

// gnuplot has 8 default colours; past them the dash pattern tells lines apart.
void Style(size_t index, Series* s) {
  s->color = static_cast<int>(index % 8) + 1;
  s->dash = static_cast<int>(index / 8) + 1;
}

// Points of a [[x, y], ...] array, keeping only those a log x axis can show.
std::vector<std::pair<double, double>> Pairs(const json& arr, bool positive_x) {
  std::vector<std::pair<double, double>> out;
  if (!arr.is_array()) return out;
  for (const json& p : arr) {
    if (!p.is_array() || p.size() < 2 || !p[0].is_number() || !p[1].is_number()) continue;
    double x = p[0].get<double>(), y = p[1].get<double>();
    if (!std::isfinite(x) || !std::isfinite(y) || (positive_x && x <= 0)) continue;
    out.push_back({x, y});
  }
  return out;
}

// A series without a single drawable point would leave an empty block that
// the script still names; it is left out instead.
void AddSeries(Panel* p, Series s) {
  bool any = std::any_of(s.points.begin(), s.points.end(), [](const auto& xy) {
    return std::isfinite(xy.first) && std::isfinite(xy.second);
  });
  if (any) p->series.push_back(std::move(s));
}

void AddPlot(std::vector<Plot>* plots, Plot p) {
  p.panels.erase(std::remove_if(p.panels.begin(), p.panels.end(),
                                [](const Panel& x) { return x.series.empty(); }),
                 p.panels.end());
  if (!p.panels.empty()) plots->push_back(std::move(p));
}

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::vector<Plot> BuildPlots(const json& r) {
  std::vector<Plot> plots;
  auto order = ApproachOrder(r);

  // Closed-loop cells, and the highest concurrency measured.
  std::vector<const json*> closed;
  std::vector<double> conc;
  for (const json& c : Arr(r, "latency")) {
    if (Str(c, "mode") == "open") continue;
    closed.push_back(&c);
    if (auto n = Num(c, "concurrency")) {
      if (std::find(conc.begin(), conc.end(), *n) == conc.end()) conc.push_back(*n);
    }
  }
  std::sort(conc.begin(), conc.end());
  auto cell_at = [&](const std::string& approach, double c) -> const json* {
    for (const json* x : closed) {
      if (Str(*x, "approach") == approach && Num(*x, "concurrency") == Opt(c)) return x;
    }
    return nullptr;
  };

  if (!conc.empty()) {
    double top = conc.back();
    std::string at = " at concurrency " + Fmt(top) + " (closed loop)";
    for (const auto& [key, stem, what] :
         {std::tuple<const char*, const char*, const char*>{"cdf", "latency-cdf",
                                                            "Business-operation latency CDF"},
          {"e2e_cdf", "e2e-cdf", "End-to-end latency CDF (start to message read)"}}) {
      Plot p{{stem, what + at}, {}, std::nullopt};
      Panel panel;
      panel.xlabel = "latency, ms (log scale)";
      panel.ylabel = "fraction of operations";
      panel.logx = true;
      panel.yrange = "[0:1]";
      for (size_t i = 0; i < order.size(); ++i) {
        const json* c = cell_at(order[i], top);
        if (!c) continue;
        Series s;
        s.title = order[i];
        Style(i, &s);
        s.points = Pairs(Get(*c, key), true);
        AddSeries(&panel, std::move(s));
      }
      p.panels.push_back(std::move(panel));
      AddPlot(&plots, std::move(p));
    }

    Plot p{{"throughput", "Throughput vs concurrency (closed loop)"}, {}, std::nullopt};
    Panel panel;
    panel.xlabel = "concurrency (log scale)";
    panel.ylabel = "committed operations per second";
    panel.logx = conc.front() > 0 && conc.size() > 1;
    panel.yrange = "[0:*]";
    std::string tics;
    for (double c : conc) tics += (tics.empty() ? "" : ", ") + Fmt(c);
    panel.xtics = "(" + tics + ")";
    // A little room around the measured concurrencies (autoscale would
    // round a log axis out to the next decade).
    if (panel.logx)
      panel.xrange = "[" + Fmt(conc.front() * 0.8) + ":" + Fmt(conc.back() * 1.25) + "]";
    for (size_t i = 0; i < order.size(); ++i) {
      Series s;
      s.title = order[i];
      Style(i, &s);
      for (double c : conc) {
        const json* x = cell_at(order[i], c);
        if (!x) continue;
        Opt t = Num(*x, "throughput_per_s");
        if (t && (!panel.logx || c > 0)) s.points.push_back({c, *t});
      }
      AddSeries(&panel, std::move(s));
    }
    p.panels.push_back(std::move(panel));
    AddPlot(&plots, std::move(p));
  }

  {
    Plot p{{"open-loop-latency", "Business latency p50 and p99 vs offered rate (open loop)"},
           {},
           std::nullopt};
    Panel panel;
    panel.xlabel = "offered operations per second";
    panel.ylabel = "latency, ms (log scale)";
    panel.logy = true;
    for (size_t i = 0; i < order.size(); ++i) {
      std::vector<const json*> cells;
      for (const json& c : Arr(r, "open_loop")) {
        if (Str(c, "approach") == order[i]) cells.push_back(&c);
      }
      std::stable_sort(cells.begin(), cells.end(), [](const json* a, const json* b) {
        return Num(*a, "rate").value_or(0) < Num(*b, "rate").value_or(0);
      });
      for (const char* q : {"p50", "p99"}) {
        Series s;
        s.title = order[i] + " " + q;
        Style(i, &s);
        if (std::string(q) == "p50") s.dash = 2;
        for (const json* c : cells) {
          Opt rate = Num(*c, "rate");
          Opt v = Num(*c, "latency_ms", q);
          if (rate && v && *v > 0) s.points.push_back({*rate, *v});
        }
        AddSeries(&panel, std::move(s));
      }
    }
    p.panels.push_back(std::move(panel));
    AddPlot(&plots, std::move(p));
  }

  // Failure scenarios, in the order the JSON lists them.
  const json& failures = Get(r, "failures");
  std::vector<std::string> scenarios;
  for (const json& s : Arr(failures, "scenarios")) {
    std::string n = Str(s, "name");
    if (!n.empty() && std::find(scenarios.begin(), scenarios.end(), n) == scenarios.end()) {
      scenarios.push_back(n);
    }
  }
  for (const json& c : Arr(failures, "cells")) {
    std::string n = Str(c, "scenario");
    if (!n.empty() && std::find(scenarios.begin(), scenarios.end(), n) == scenarios.end()) {
      scenarios.push_back(n);
    }
  }
  auto fcell = [&](const std::string& scen, const std::string& approach) -> const json* {
    for (const json& c : Arr(failures, "cells")) {
      if (Str(c, "scenario") == scen && Str(c, "approach") == approach &&
          Str(c, "status") == "ran") {
        return &c;
      }
    }
    return nullptr;
  };
  auto fault_len = [&](const std::string& scen) -> Opt {
    for (const auto& a : order) {
      if (const json* c = fcell(scen, a)) {
        Opt s = Num(*c, "fault", "start_s"), e = Num(*c, "fault", "end_s");
        if (s && e) return *e - *s;
      }
    }
    for (const json& s : Arr(failures, "scenarios")) {
      if (Str(s, "name") == scen) return Num(s, "fault_s");
    }
    return std::nullopt;
  };
  for (const auto& scen : scenarios) {
    Plot p{{"failure-" + Stem(scen),
            scen + ": latency p99 and success rate across the fault (shaded)"},
           {},
           fault_len(scen)};
    Panel lat, ok;
    lat.title = "business latency p99 per 250 ms of intended start";
    lat.xlabel = "seconds from the fault start";
    lat.ylabel = "p99, ms (log scale)";
    lat.logy = true;
    ok.title = "operations that succeeded";
    ok.xlabel = lat.xlabel;
    ok.ylabel = "success, %";
    ok.yrange = "[0:105]";
    for (size_t i = 0; i < order.size(); ++i) {
      const json* c = fcell(scen, order[i]);
      if (!c) continue;
      Series sl, so;
      sl.title = so.title = order[i];
      Style(i, &sl);
      Style(i, &so);
      for (const json& b : Arr(*c, "timeline")) {
        Opt t = Num(b, "t_s");
        if (!t) continue;
        Opt p99 = Num(b, "p99_ms");
        if (p99 && *p99 > 0) {
          sl.points.push_back({*t, *p99});
        } else if (!sl.points.empty()) {
          // No operation finished in this bucket: break the line rather
          // than draw a slope through the outage.
          sl.points.push_back({*t, kGap});
        }
        double good = Num(b, "ok").value_or(0), bad = Num(b, "failed").value_or(0);
        if (good + bad > 0) so.points.push_back({*t, 100.0 * good / (good + bad)});
      }
      AddSeries(&lat, std::move(sl));
      AddSeries(&ok, std::move(so));
    }
    p.panels.push_back(std::move(lat));
    p.panels.push_back(std::move(ok));
    AddPlot(&plots, std::move(p));
  }

  // The outbox backlog while the broker is down.
  {
    const std::string scen = "broker-down";
    Plot p{{"backlog-broker-down", "Outbox backlog (unsent rows) during broker-down (shaded)"},
           {},
           fault_len(scen)};
    Panel panel;
    panel.xlabel = "seconds from the fault start";
    panel.ylabel = "unsent outbox rows";
    panel.yrange = "[0:*]";
    for (size_t i = 0; i < order.size(); ++i) {
      const json* c = fcell(scen, order[i]);
      if (!c) continue;
      Series s;
      s.title = order[i];
      Style(i, &s);
      for (const json& b : Arr(*c, "backlog")) {
        Opt t = Num(b, "t_s"), rows = Num(b, "rows");
        if (t && rows) s.points.push_back({*t, *rows});
      }
      AddSeries(&panel, std::move(s));
    }
    p.panels.push_back(std::move(panel));
    AddPlot(&plots, std::move(p));
  }
  return plots;
}

// ---- Writing ----

// A gnuplot single-quoted string: only '' needs escaping there, and no
// backslash sequence is interpreted. Line breaks would end the command.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "''";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Text for a comment line of the data file: a line break there would start
// a data line (or a blank one, which gnuplot counts as a block separator).
std::string OneLine(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

// gnuplot numbers blocks by runs of two or more blank lines (comment lines
// do not interrupt a run) and lifts the pen at a single blank line. So a
// block is written as its points with at most one blank line between two of
// them, never one before the first or after the last, and ends with exactly
// two: then block N is the Nth series, the one the script's `index N` titles.
std::string DataFile(const Plot& p) {
  std::string out =
      "# " + OneLine(p.info.title) + "\n# One block per series (gnuplot `index N`).\n";
  int index = 0;
  for (const auto& panel : p.panels) {
    for (const auto& s : panel.series) {
      out += "# index " + std::to_string(index++) + ": " + OneLine(s.title) + "\n";
      bool drawn = false, gap = false;
      for (const auto& [x, y] : s.points) {
        if (!std::isfinite(x) || !std::isfinite(y)) {
          gap = drawn;  // a run of gaps, or one before any point, is one lift or none
          continue;
        }
        if (gap) out += "\n";
        out += Fmt(x) + " " + Fmt(y) + "\n";
        drawn = true;
        gap = false;
      }
      out += "\n\n";
    }
  }
  return out;
}

// The drawing commands, emitted once per terminal (multiplot cannot replot).
std::string Body(const Plot& p) {
  std::string b;
  std::string dat = Quote(p.info.name + ".dat");
  if (p.fault_len && *p.fault_len > 0) {
    b += "set object 1 rectangle from first 0, graph 0 to first " + Fmt(*p.fault_len) +
         ", graph 1 behind fillcolor rgb '#e4e4e4' fillstyle solid 1.0 noborder\n";
  } else {
    b += "unset object 1\n";
  }
  bool multi = p.panels.size() > 1;
  if (multi) {
    b += "set multiplot layout " + std::to_string(p.panels.size()) + ",1 title " +
         Quote(p.info.title) + "\n";
  }
  int index = 0;
  for (const auto& panel : p.panels) {
    b += "set title " + Quote(multi ? panel.title : p.info.title) + "\n";
    b += "set xlabel " + Quote(panel.xlabel) + "\n";
    b += "set ylabel " + Quote(panel.ylabel) + "\n";
    b += panel.logx ? "set logscale x\n" : "unset logscale x\n";
    b += panel.logy ? "set logscale y\n" : "unset logscale y\n";
    b += panel.xrange.empty() ? "set autoscale x\n" : "set xrange " + panel.xrange + "\n";
    b += panel.yrange.empty() ? "set autoscale y\n" : "set yrange " + panel.yrange + "\n";
    b += panel.xtics.empty() ? "set xtics autofreq\n" : "set xtics " + panel.xtics + "\n";
    b += "plot ";
    for (size_t i = 0; i < panel.series.size(); ++i) {
      const Series& s = panel.series[i];
      if (i) b += ", \\\n     ";
      b += dat + " index " + std::to_string(index++) + " using 1:2 with linespoints lc " +
           std::to_string(s.color) + " dt " + std::to_string(s.dash) + " pt 7 ps 0.4 title " +
           Quote(s.title);
    }
    b += "\n";
  }
  if (multi) b += "unset multiplot\n";
  return b;
}

std::string Script(const Plot& p, const std::string& png_terminal) {
  int height = p.panels.size() > 1 ? 800 : 560;
  std::string size = " size 1000," + std::to_string(height);
  std::string s = "# " + OneLine(p.info.title) +
                  "\n# Generated by `dualwrite compare` from results.json; the data is in " +
                  p.info.name + ".dat.\n# Run `gnuplot " + p.info.name +
                  ".gp` in this folder to redraw the .svg and .png.\n"
                  "set grid\nset key outside right top\n";
  std::string body = Body(p);
  s += "set terminal svg" + size +
       " dynamic noenhanced font 'sans,11' background rgb 'white'\nset output " +
       Quote(p.info.name + ".svg") + "\n" + body + "set output\n";
  s += "set terminal " + png_terminal + size + " noenhanced\nset output " +
       Quote(p.info.name + ".png") + "\n" + body + "set output\n";
  return s;
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::IOError("cannot write " + path);
  return Status::OK();
}

// The gnuplot executable on PATH, or empty.
std::string FindGnuplot() {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string exe = dir + "/gnuplot";
    if (access(exe.c_str(), X_OK) == 0) return exe;
    start = end + 1;
  }
  return "";
}

bool NonEmptyFile(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return !ec && size > 0;
}

}  // namespace

std::vector<PlotInfo> PlannedPlots(const nlohmann::json& results) {
  std::vector<PlotInfo> out;
  for (const auto& p : BuildPlots(results)) out.push_back(p.info);
  return out;
}

Status WritePlots(const nlohmann::json& results, const std::string& dir,
                  std::vector<std::string>* written) {
  std::vector<std::string> ignored;
  if (!written) written = &ignored;
  const std::string plots_dir = dir + "/plots";
  std::error_code ec;
  std::filesystem::create_directories(plots_dir, ec);
  if (ec) return Status::IOError("cannot create " + plots_dir + ": " + ec.message());

  std::vector<Plot> plots = BuildPlots(results);
  const std::string gnuplot = FindGnuplot();
  // pngcairo draws anti-aliased lines; Debian's gnuplot-nox has it, other
  // builds may only have the libgd png terminal.
  std::string png = "png";
  if (!gnuplot.empty() && RunCommand({gnuplot, "-e", "set terminal pngcairo"}, nullptr).ok()) {
    png = "pngcairo";
  }
  for (const auto& p : plots) {
    std::string base = plots_dir + "/" + p.info.name;
    Status s = WriteFile(base + ".dat", DataFile(p));
    if (!s.ok()) return s;
    written->push_back(base + ".dat");
    s = WriteFile(base + ".gp", Script(p, png));
    if (!s.ok()) return s;
    written->push_back(base + ".gp");
  }
  if (gnuplot.empty()) {
    return Status::FailedPrecondition(
        "gnuplot not found in PATH (install gnuplot-nox): the plots' data and scripts are in " +
        plots_dir + ", but no .svg/.png was drawn");
  }

  std::vector<std::string> failures;
  SpawnOptions opts;
  opts.cwd = plots_dir;  // the scripts name their files relative to the folder
  for (const auto& p : plots) {
    std::string base = plots_dir + "/" + p.info.name;
    // A stale image from an earlier render must not pass for this one.
    std::filesystem::remove(base + ".svg", ec);
    std::filesystem::remove(base + ".png", ec);
    std::string output;
    Status s = RunCommand({gnuplot, p.info.name + ".gp"}, &output, opts);
    if (!s.ok()) {
      failures.push_back(p.info.name + ": " + s.message());
      continue;
    }
    for (const char* ext : {".svg", ".png"}) {
      if (NonEmptyFile(base + ext)) {
        written->push_back(base + ext);
      } else {
        failures.push_back(p.info.name + ": gnuplot drew no " + std::string(ext + 1));
      }
    }
  }
  if (!failures.empty()) {
    std::string msg = "gnuplot failed for " + std::to_string(failures.size()) + " plot(s): ";
    for (size_t i = 0; i < failures.size(); ++i) msg += (i ? "; " : "") + failures[i];
    return Status::IOError(msg);
  }
  return Status::OK();
}

}  // namespace dw::compare
