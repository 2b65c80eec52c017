// The saga's tables, created next to `orders` (which it shares with every
// approach: the same row, the same id sequence, so `verify` and the
// benchmarks compare like with like).
//
//   saga_orders   (order_id, status, updated_at): the order's business state,
//                 the semantic lock. 'pending' from T1 until the pivot is
//                 decided, then 'placed' (T3) or 'cancelled' (compensation).
//                 A table of its own rather than a column on `orders`:
//                 adding a column is ALTER TABLE orders, an ACCESS EXCLUSIVE
//                 lock that waits behind every transaction holding the table,
//                 2PC's prepared ones included, which stay for as long as
//                 their coordinator is down; and the other approaches would
//                 carry a column that means nothing to them.
//   saga_log      (saga_id, step, state, in_doubt, payload, attempts,
//                 updated_at): the orchestrator's log, one row per saga (the
//                 saga id is the order id). state: 'pending' (T1 done, pivot
//                 undecided), 'done' (placed), 'compensating' (cancelled, the
//                 OrderCancelled event not yet acknowledged), 'compensated'.
//                 `payload` is the OrderPlaced payload, so recovery re-sends
//                 the same bytes; `in_doubt` says an attempt of the pivot may
//                 have landed (see pivot.h, the fence).
//   saga_barrier  (saga_id, step, op): the sub-transaction barrier. Every
//                 local step inserts its row in its own transaction; the
//                 primary key turns a second delivery into a no-op and lets a
//                 compensation leave a row that blocks a late forward step
//                 (steps.h).
#pragma once

#include <string>

#include "common/status.h"

namespace dw::saga {

// Creates `orders` (workload/orders.h) and the three tables above if absent.
// Idempotent. Unavailable when the server cannot be reached, IOError otherwise.
Status EnsureSagaSchema(const std::string& dsn);

}  // namespace dw::saga
