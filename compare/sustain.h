// Whether an open-loop cell sustained its offered rate: the one verdict,
// given when a cell is measured and given again, from the stored figures,
// whenever a results.json is rendered (`compare --from`), so a report always
// carries the current rule (docs/compare-results.md, `sustained`).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compare/results.h"

namespace dw::compare {

// The conditions `cell` failed at the offered `rate` (arrivals per second),
// as phrases for the report; empty when it sustained the rate. Sustained: at
// least 99% of the offered operations committed; business p99, e2e p99 and
// the drain after the load under `bound_ms`; and a backlog that did not grow
// by more over the `duration_s` of the load than the rate brings in
// `bound_ms` (growth_per_s x duration_s <= rate x bound_ms / 1000).
std::vector<std::string> SustainFailures(const results::LoadCell& cell, double rate,
                                         double bound_ms, double duration_s);

// Per approach of the rate grid's `cells` (in run order, rates ascending):
// `rate_per_s`, the highest rate sustained before the first one that was
// not, and `first_unsustained_per_s`, that first one; null where none. A cell
// with an error is not sustained.
std::map<std::string, results::Sustainable> SustainableRates(
    const std::vector<results::LoadCell>& cells);

// `run` with every judged cell of its rate grid judged again by
// SustainFailures (its `sustained` and `sustain_failures`) and the grid's
// `sustainable` rebuilt; the measurements and everything else unchanged. A
// run without a rate grid (schema 1) comes back as it was.
results::Run Rejudged(results::Run run);

}  // namespace dw::compare
