// The plots of `dualwrite compare` as data, before gnuplot sees them, and
// the helpers every plot builder shares (compare/plot_load.cc for section 1,
// compare/plot_failures.cc for section 2, compare/plot_gnuplot.cc writes them).
//
// A plot is a grid of panels: one row per family of approaches (2PC, outbox)
// so that no axis carries more than a handful of lines, one column per figure
// shown (e.g. availability and p99). The floor, the lower bound every
// approach is measured against, is drawn in each row as a grey dashed
// reference. Every approach keeps one colour, an explicit rgb value, in every
// plot.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compare/plots.h"
#include "compare/results.h"

namespace dw::compare::plot {

using Opt = std::optional<double>;

// A y value that marks a gap in a line (the pen is lifted there).
constexpr double kGap = std::numeric_limits<double>::quiet_NaN();

struct Point {
  double x = 0;
  double y = 0;
  double lo = kGap;  // error bar, when the series has them: the range of the
  double hi = kGap;  // repetitions; absent reads as no bar (lo = hi = y)
};

struct Series {
  std::string title;
  std::string color = "#000000";  // "#rrggbb"
  int dash = 1;                   // gnuplot dash type: 1 solid, 2 dashed, 3 dotted
  bool lines_only = false;        // many points close together (timelines): no markers
  bool steps = false;             // a value per time bucket: flat across the bucket
  bool key = true;                // false: a second figure of an approach the key already names
  bool reference = false;         // the floor: a panel of references alone is not worth drawing
  bool errorbars = false;         // points carry lo/hi
  std::vector<Point> points;
};

// A key entry that explains a line style rather than naming a series.
struct KeyNote {
  std::string title;
  std::string color;
  int dash = 1;
};

struct Panel {
  std::string title;  // empty: none (a single panel is titled by the plot)
  std::string xlabel;
  std::string ylabel;
  bool logx = false;
  bool logy = false;
  std::string xrange;  // e.g. "[0.8:20]"; empty: autoscale
  bool xfix = false;   // autoscale x to the data, not out to the next tic (time axes)
  std::string yrange;  // e.g. "[0:105]"; empty: autoscale
  std::string xtics;   // e.g. "(1, 4, 16)"; empty: automatic
  std::vector<Series> series;
  std::vector<KeyNote> notes;
  Opt hline;  // a horizontal bound across the panel, drawn with hline_note's style
  KeyNote hline_note;
  std::string reference_what;  // the floor's figure in the key: "floor" + this
};

struct Plot {
  PlotInfo info;
  int cols = 1;               // panels are row-major: panels[row * cols + col]
  std::vector<Panel> panels;  // a multiple of cols
  Opt fault_len;  // shade [0, fault_len] on the x axis (time relative to the fault start)
};

// What the builders need to know about the run besides the cells.
struct Context {
  const results::Run& r;
  std::vector<std::string> order;             // approaches in report order
  std::map<std::string, std::string> family;  // approach -> floor, 2pc, outbox, ...
  std::vector<std::string> families;          // families other than floor, 2pc first
  std::map<std::string, std::string> color;   // approach -> "#rrggbb"
  std::map<std::string, int> dash;            // approach -> dash past its palette
};

Context MakeContext(const results::Run& r);

// An approach's series in its colour: solid for the first figure of a
// panel, dashed (and not repeated in the key) for a second one.
Series NewSeries(const Context& c, const std::string& approach, bool secondary = false);

// Adds `s` to `p` when it has at least one drawable point.
void AddSeries(Panel* p, Series s);

// Adds a plot of one row of panels that are not broken up by family.
void AddPlot(std::vector<Plot>* plots, Plot p);

// Adds `proto` with one row per family: `columns` are the panels of a row
// (their titles get the family's name in front), `fill` adds an approach's
// series to the panel of column `col`. The floor is filled into every row
// and restyled as the grey dashed reference, its first figure only (a second
// one would be dashed like the approaches' second figures). Rows without a series of their own
// family are left out, the plot too when none is left; a run of the floor
// alone gets a row of its own.
using Fill = std::function<void(const std::string& approach, size_t col, Panel* panel)>;
void AddFamilyPlot(const Context& c, Plot proto, const std::vector<Panel>& columns,
                   const Fill& fill, std::vector<Plot>* plots);

// Number formatting for data files and scripts: shortest round-trip-ish.
std::string Fmt(double v);
// A file stem from a name that comes from results.json.
std::string Stem(const std::string& s);
// A figure as the plots read it: absent, null and not finite alike are nullopt.
inline Opt Val(const results::Field<double>& f) {
  return f && std::isfinite(*f) ? Opt(*f) : std::nullopt;
}
inline Opt Val(const results::Field<int64_t>& f) {
  return f ? Opt(static_cast<double>(*f)) : std::nullopt;
}
// A string field, "" when absent or null.
inline std::string Text(const results::Field<std::string>& f) { return f.value_or(""); }
// The elements of a list field (none when absent or null).
template <class T>
const std::vector<T>& Items(const results::Field<std::vector<T>>& f) {
  static const std::vector<T> none;
  return f ? *f : none;
}

// Points of a CDF, keeping only those a log x axis can show.
std::vector<Point> Pairs(const results::Field<std::vector<results::CdfPoint>>& cdf,
                         bool positive_x);
// Explicit tics at the measured x values, "(1, 4, 16)".
std::string Tics(const std::vector<double>& xs);
// A log x range a little wider than the measured values (autoscale would
// round it out to whole decades), or empty when it cannot be one.
std::string LogRange(const std::vector<double>& xs);
// [min, max] of a range field, when it has one.
bool Range(const results::Field<results::MinMax>& range, Point* p);

// Section 1 (load) and section 2 (failures) plots, in report order.
void AddLoadPlots(const Context& c, std::vector<Plot>* plots);
void AddFailurePlots(const Context& c, std::vector<Plot>* plots);

// The gnuplot files of a plot: the data (one block per series, in panel
// order, block N is the series the script's `index N` draws) and the script
// that draws it as <name>.svg and <name>.png.
std::string DataFile(const Plot& p);
std::string Script(const Plot& p, const std::string& png_terminal);

}  // namespace dw::compare::plot
