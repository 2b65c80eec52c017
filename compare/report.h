// The report half of `dualwrite compare`: results.json -> report.md.
//
// The report is a pure function of the JSON (schema: docs/compare-results.md,
// versions 1 and 2), so `dualwrite compare --from results.json` re-renders it
// without running anything. It opens with the answer ("In short"), then
// section 1 (throughput, latency, cost), section 2 (failures), the seed's
// three questions and what ran where. Every reading is computed from the
// figures in that file, and a difference between two approaches is called
// real only where their repetitions' ranges do not overlap: a reader of a new
// run never meets a claim that was true only for the run the renderer was
// written against. The sections live in compare/report_*.cc.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace dw::compare {

// Markdown for DIR/report.md. Never throws and never fails: a figure that is
// missing, null or of the wrong type renders as "-", a section with no data
// says so. Plot links point at plots/<name>.svg next to the report (see
// PlannedPlots in compare/plots.h), whether or not gnuplot produced them.
std::string RenderReport(const nlohmann::json& results);

}  // namespace dw::compare
