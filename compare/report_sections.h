// The sections of report.md (compare/report.h), one renderer per file; each
// returns Markdown that starts with its own "## " heading and ends with a
// blank line. report.cc only assembles them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compare/report_data.h"

namespace dw::compare::rpt {

// report_summary.cc: "In short", the answer first: 5-8 bullets.
std::string RenderSummary(const Data& d);

// report_load.cc: section 1 (ranking, closed loop, cost), with report_grid.cc
// for its open-loop, contention and relay-scaling parts.
std::string RenderLoad(const Data& d);
std::string RenderRateGrid(const Data& d);
std::string RenderContention(const Data& d);
std::string RenderRelayScaling(const Data& d);

// report_failures.cc: section 2, the failure matrix.
std::string RenderFailures(const Data& d);

// report_ordering.cc: order per key ("" when the run has no such section).
std::string RenderOrderPerKey(const Data& d);

// report_questions.cc: the seed's three questions, from the failure matrix.
std::string RenderQuestions(const Data& d);

// ---- Shared by the summary and the sections ----

// A closed-loop cell's figures, by what the summary and section 1 both rank.
inline Opt Business(const LoadCell& c) { return Num(c.throughput_per_s); }
inline Opt CpuTotal(const LoadCell& c) { return Num(c.cpu_us_per_op, &results::CpuPerOp::total); }
inline Opt P50(const LoadCell& c) { return Num(c.latency_ms, &results::Percentiles::p50); }
inline Opt P99(const LoadCell& c) { return Num(c.latency_ms, &results::Percentiles::p99); }
inline Opt E2eP50(const LoadCell& c) { return Num(c.e2e_ms, &results::Percentiles::p50); }
inline Opt E2eP99(const LoadCell& c) { return Num(c.e2e_ms, &results::Percentiles::p99); }
inline Opt Wal(const LoadCell& c) { return Num(c.cost, &results::Cost::wal_bytes_per_op); }

// How the cells of one family fared under faults, as phrases for a bullet:
// availability per scenario, losses, redeliveries, in-doubt, blocking.
std::string FamilyUnderFaults(const Data& d, const std::string& family);

// Lost messages per approach among `cells`: "`a` 37 under `clock-skew`
// (expected)", "`a` 53622 under 7 scenarios (expected)"; "" when none.
std::string LossesByApproach(const std::vector<const FailureCell*>& cells);

// "7/7 clean", "2/3 clean; loses messages (clock-skew); 1 n/a".
std::string MatrixSummary(const Data& d, const std::string& approach);

// The highest rate `approach` sustained as "4000/s", or a phrase saying why
// there is none.
std::string SustainableText(const Data& d, const std::string& approach);

// How busy the machine's cores were in the closed loop at `concurrency`:
// throughput x CPU µs per operation / (cores x 10^6), lowest and highest over
// the approaches; nullopt without CPU figures or a core count.
std::optional<Span> BusyShare(const Data& d, int concurrency);
// The busy share above which every approach counts as bound by CPU: the
// report then says throughput follows total CPU per operation.
inline constexpr double kCpuBound = 0.6;

// How the orders a saga's dirty-read probe read while pending ended: "all
// were placed later", "3 were cancelled afterwards (reads of orders that
// never happened), 1 still pending at the end".
std::string DirtyOutcome(const results::DirtyReads& r);

// Why a grid cell was not sustained: its sustain_failures joined.
std::string SustainFailures(const LoadCell& cell);

// The first rate an approach did not sustain, when the commit itself kept up
// there (at least 99% committed, business p99 under `bound_ms`) and only the
// delivery failed (e2e p99, drain or backlog): the cell, else null. An
// approach that sends no message, or whose business latency already broke
// the bound, is not one: saying "delivery was the limit" would be false.
const LoadCell* DeliveryLimitedCell(const Data& d, const std::string& approach, Opt bound_ms);

}  // namespace dw::compare::rpt
