// The figures only one family has, added to its cells beside the common ones
// (docs/compare-results.md names them):
//   pending_age_ms     saga: how long each order stayed 'pending' (T1's
//                      commit -> its final status, placed or cancelled): the
//                      window in which other transactions see an order whose
//                      event does not exist yet (the dirty-read window)
//   dirty_reads        saga: what a reader polling the open sagas read while
//                      they were pending, and how those orders ended
//   projection_lag_ms  event-sourced: broker visibility -> the projector's
//                      commit of the row, as the projector measured it: how
//                      long a reader of the read model misses an
//                      acknowledged write
// Both are {p50, p99, max, count} in milliseconds, or null where they do not
// apply or could not be read.
#pragma once

#include "compare/approaches.h"
#include "compare/results.h"
#include "compare/rig.h"

namespace dw::compare {

// From saga_orders and orders of the cell's id range, orders that reached
// their final status only.
results::Field<results::Percentiles> SagaPendingAge(const Rig& rig);

// From the finished `saga run`'s --json summary (its last stdout line);
// null when it printed none (killed) or ran without the probe.
results::Field<results::DirtyReads> SagaDirtyReads(const Proc& load);

// From the stopped projector's --json summary (its last stdout line).
results::Field<results::Percentiles> ProjectionLag(const Proc& projector);

// Sets cell->pending_age_ms and cell->projection_lag_ms (a load or a failure
// cell): the one that applies to `a` from the cell, the other null. `relay`:
// the cell's relay process once stopped (nullptr: none).
template <class Cell>
void AddFamilyFigures(const Rig& rig, const Approach& a, const Proc* relay, Cell* cell) {
  cell->pending_age_ms = a.def().judge == Judge::kSaga ? SagaPendingAge(rig) : nullptr;
  cell->projection_lag_ms = a.def().rows_follow_messages && relay ? ProjectionLag(*relay) : nullptr;
}

}  // namespace dw::compare
