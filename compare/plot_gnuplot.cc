// A Plot as gnuplot files: <name>.dat (the series) and <name>.gp (the
// script that draws them as <name>.svg and <name>.png).
#include <algorithm>
#include <cmath>

#include "common/one_line.h"
#include "compare/plot_model.h"

namespace dw::compare::plot {
namespace {

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

// Text for a comment line: a line break there would start a data line (or
// a blank one, which gnuplot counts towards a block separator), or in the
// script a command. kScreen turns breaks (and tabs) into spaces, nothing else.
std::string OneLine(const std::string& s) { return dw::OneLine(s, OneLineMode::kScreen); }

// The page, in pixels: panels of equal size in a grid, the figure's title
// above them, the key of a row to the right of its last panel. Margins are
// fixed (gnuplot would size each panel's margins by its own tic labels and
// key, so that panels of a column would not line up).
struct Geometry {
  int cols = 1, rows = 1;
  int col_w = 0, row_h = 0, key_w = 0, width = 0, height = 0;
  static constexpr int kTitle = 40;     // the figure's title
  static constexpr int kLeft = 84;      // y tic labels and the y label
  static constexpr int kRight = 26;     // room between a panel and the next
  static constexpr int kBottom = 62;    // x tic labels and the x label
  static constexpr int kPanelTop = 30;  // a panel's title
  static constexpr int kCharW = 7;      // a key character at 10 pt, generously

  explicit Geometry(const Plot& p) {
    cols = std::max(p.cols, 1);
    rows = std::max<int>(1, static_cast<int>((p.panels.size() + cols - 1) / cols));
    col_w = cols == 1 ? 860 : 600;
    row_h = rows == 1 ? 500 : (cols == 1 ? 380 : 340);
    size_t longest = 0;
    for (const Panel& panel : p.panels) {
      for (const Series& s : panel.series) {
        if (s.key) longest = std::max(longest, s.title.size());
      }
      for (const KeyNote& n : panel.notes) longest = std::max(longest, n.title.size());
      if (panel.hline) longest = std::max(longest, panel.hline_note.title.size());
    }
    // The sample line, the gaps and the box around it: 100 px.
    key_w = longest ? static_cast<int>(longest) * kCharW + 100 : 20;
    width = cols * col_w + key_w;
    height = kTitle + rows * row_h;
  }
  std::string X(int px) const { return "screen " + Fmt(static_cast<double>(px) / width); }
  std::string Y(int px) const { return "screen " + Fmt(1.0 - static_cast<double>(px) / height); }
};

std::string Clause(const std::string& dat, int index, const Series& s) {
  std::string c = dat + " index " + std::to_string(index);
  if (s.errorbars) {
    c += " using 1:2:3:4 with yerrorlines";
  } else if (s.steps) {
    c += " using 1:2 with steps";
  } else {
    c += s.lines_only ? " using 1:2 with lines" : " using 1:2 with linespoints";
  }
  c += " lc rgb " + Quote(s.color) + " dt " + std::to_string(s.dash) + " lw 1.5";
  if (s.errorbars || !(s.lines_only || s.steps)) c += " pt 7 ps 0.5";
  return c + (s.key ? " title " + Quote(s.title) : " notitle");
}

// The drawing commands, emitted once per terminal (multiplot cannot replot).
std::string Body(const Plot& p, const Geometry& g) {
  std::string b;
  std::string dat = Quote(p.info.name + ".dat");
  if (p.fault_len && *p.fault_len > 0) {
    b += "set object 1 rectangle from first 0, graph 0 to first " + Fmt(*p.fault_len) +
         ", graph 1 behind fillcolor rgb '#e4e4e4' fillstyle solid 1.0 noborder\n";
  } else {
    b += "unset object 1\n";
  }
  b += "set multiplot title " + Quote(p.info.title) + " font ',13'\n";
  int index = 0;
  for (size_t i = 0; i < p.panels.size(); ++i) {
    const Panel& panel = p.panels[i];
    int row = static_cast<int>(i) / g.cols, col = static_cast<int>(i) % g.cols;
    int top = Geometry::kTitle + row * g.row_h + (panel.title.empty() ? 10 : Geometry::kPanelTop);
    int bottom = Geometry::kTitle + (row + 1) * g.row_h - Geometry::kBottom;
    b += "set lmargin at " + g.X(col * g.col_w + Geometry::kLeft) + "\n";
    b += "set rmargin at " + g.X((col + 1) * g.col_w - Geometry::kRight) + "\n";
    b += "set tmargin at " + g.Y(top) + "\n";
    b += "set bmargin at " + g.Y(bottom) + "\n";
    b += panel.title.empty() ? "unset title\n" : "set title " + Quote(panel.title) + "\n";
    b += "set xlabel " + Quote(panel.xlabel) + "\n";
    b += "set ylabel " + Quote(panel.ylabel) + "\n";
    // The key of a row sits right of its last panel (every panel of a row
    // draws the same approaches in the same colours).
    if (col == g.cols - 1) {
      b += "set key at " + g.X(g.cols * g.col_w + 4) + ", " + g.Y(top) +
           " top left Left reverse samplen 3 spacing 1.2 box opaque\n";
    } else {
      b += "unset key\n";
    }
    if (panel.series.empty()) {
      // Another panel of the row has data: keep the grid, say why this one is empty.
      b += "unset logscale x\nunset logscale y\nset xtics autofreq\n";
      b += "set label 99 'nothing to show' at graph 0.5, graph 0.5 center\n";
      b += "plot [0:1] [0:1] NaN notitle\nunset label 99\n";
      continue;
    }
    b += panel.logx ? "set logscale x\n" : "unset logscale x\n";
    b += panel.logy ? "set logscale y\n" : "unset logscale y\n";
    if (!panel.xrange.empty()) {
      b += "set xrange " + panel.xrange + "\n";
    } else {
      b += panel.xfix ? "set autoscale xfix\n" : "set autoscale x\n";
    }
    b += panel.yrange.empty() ? "set autoscale y\n" : "set yrange " + panel.yrange + "\n";
    b += panel.xtics.empty() ? "set xtics autofreq\n" : "set xtics " + panel.xtics + "\n";
    b += "plot ";
    std::string sep;
    for (const Series& s : panel.series) {
      b += sep + Clause(dat, index++, s);
      sep = ", \\\n     ";
    }
    if (panel.hline) {
      // A constant function: sampled across the x range and counted by
      // autoscale, so the bound is on the axis even when every point is below.
      const KeyNote& n = panel.hline_note;
      b += sep + Fmt(*panel.hline) + " with lines lc rgb " + Quote(n.color) + " dt " +
           std::to_string(n.dash) + " lw 1.5 title " + Quote(n.title);
    }
    for (const KeyNote& n : panel.notes) {
      // Drawn nowhere, shown in the key: what a line style means.
      b += sep + "NaN with lines lc rgb " + Quote(n.color) + " dt " + std::to_string(n.dash) +
           " lw 1.5 title " + Quote(n.title);
    }
    b += "\n";
  }
  b += "unset multiplot\n";
  return b;
}

}  // namespace

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
      if (s.errorbars) out += "# x y min max (min and max over the repetitions)\n";
      bool drawn = false, gap = false;
      for (const Point& pt : s.points) {
        if (!std::isfinite(pt.x) || !std::isfinite(pt.y)) {
          gap = drawn;  // a run of gaps, or one before any point, is one lift or none
          continue;
        }
        if (gap) out += "\n";
        out += Fmt(pt.x) + " " + Fmt(pt.y);
        if (s.errorbars) {
          bool bar = std::isfinite(pt.lo) && std::isfinite(pt.hi);
          out += " " + Fmt(bar ? pt.lo : pt.y) + " " + Fmt(bar ? pt.hi : pt.y);
        }
        out += "\n";
        drawn = true;
        gap = false;
      }
      out += "\n\n";
    }
  }
  return out;
}

std::string Script(const Plot& p, const std::string& png_terminal) {
  Geometry g(p);
  std::string size = " size " + std::to_string(g.width) + "," + std::to_string(g.height);
  std::string s = "# " + OneLine(p.info.title) +
                  "\n# Generated by `dualwrite compare` from results.json; the data is in " +
                  p.info.name + ".dat.\n# Run `gnuplot " + p.info.name +
                  ".gp` in this folder to redraw the .svg and .png.\nset grid\n";
  std::string body = Body(p, g);
  s += "set terminal svg" + size +
       " dynamic noenhanced font 'sans,10' background rgb 'white'\nset output " +
       Quote(p.info.name + ".svg") + "\n" + body + "set output\n";
  s += "set terminal " + png_terminal + size + " noenhanced font 'sans,10'\nset output " +
       Quote(p.info.name + ".png") + "\n" + body + "set output\n";
  return s;
}

}  // namespace dw::compare::plot
