// The plot half of `dualwrite compare`: results.json -> DIR/plots/*.{dat,gp,svg,png}.
//
// Every plot is a gnuplot script plus the data file it reads, both kept next
// to the images so a reader can restyle a plot without re-running the
// benchmark. Like the report, the plots come from the JSON alone. What each
// plot draws, and how: compare/plot_model.h.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dw::compare {

// One plot the JSON has data for: files are plots/<name>.{dat,gp,svg,png}.
struct PlotInfo {
  std::string name;   // file stem, [A-Za-z0-9._-]
  std::string title;  // what the plot shows, for links and the plot's own title
};

// The plots WritePlots would draw for `results` (only those with data), in
// the order the report lists them. Pure: touches no file.
std::vector<PlotInfo> PlannedPlots(const nlohmann::json& results);

// Writes DIR/plots/<name>.dat and <name>.gp for every planned plot, then runs
// gnuplot on each script to draw <name>.svg (terminal svg) and <name>.png
// (pngcairo when this gnuplot has it, else the libgd png terminal).
// `written` (may be null) receives the path of every file written, including
// those written before a failure. Without gnuplot in PATH the data and
// scripts are still written and the result is FailedPrecondition; a script
// gnuplot rejects (or an image it did not produce) is an IOError naming the
// plot, after the other plots were still attempted.
Status WritePlots(const nlohmann::json& results, const std::string& dir,
                  std::vector<std::string>* written);

}  // namespace dw::compare
