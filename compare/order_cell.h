// Order-per-key cells (report section "Order per key"): several events per
// order (`--events-per-order E`), and whether a consumer reads each order's
// events in the order they were acknowledged, with K relay instances, with
// and without `--partition-by key`, healthy and under a fault.
//
// Outbox: the relay is started (so a CDC slot exists), then stopped with
// SIGSTOP while the load writes `orders` x `events` events; it is resumed
// (SIGCONT) and the cell times the drain of that backlog until every event
// is readable. Faults act on the drain, where the relays contend:
//   broker-down  the broker is down when the relay resumes, for fault_s
//   relay-kill   the relay is SIGKILLed once its first message is readable
//                (mid-drain, a batch in flight) and started again
// 2PC and 3PC: no relay and no backlog; each event is its own 2PC (3PC)
// transaction issued after the previous one's acknowledgement, and the rate
// is the load's own (events per second of the load). Event sourcing: the
// same at the broker (`es write` publishes event n once n-1 was
// acknowledged), and the cell's projector applies each event to its order's
// row as it arrives; the cell waits until it applied every event read.
// broker-down takes the broker away for fault_s during the load; relay-kill
// does not apply.
//
// Judged with verify's order-per-key check (workload/order_check.h).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare/approaches.h"
#include "compare/cells.h"
#include "compare/plan.h"

namespace dw::compare {

struct OrderSpec {
  int instances = 1;         // relay instances (--instances K)
  bool partitioned = false;  // --partition-by key
  std::string fault;         // "" (healthy) | "broker-down" | "relay-kill"
  int orders = 400;
  int events = 3;   // --events-per-order
  int writers = 4;  // the load's --concurrency
  // The relay's --batch: its default (100), not the deployed 1,000, so that
  // a cell's backlog of a few thousand events is many batches and K
  // instances claim consecutive ones at once (at 1,000 one instance would
  // claim the whole backlog of a small cell, and nothing could reorder).
  int batch = 100;
  double fault_s = 1;
  double drain_timeout_s = 30;
};

// Why `spec` does not apply to `a` ("" when it does): relay-kill without a
// relay, K > 1 for a relay that is one reader, --partition-by key for a
// strategy other than skip-locked, and approaches whose load has no events
// 2..E (the saga, the floor).
std::string OrderCellNotApplicable(const Approach& a, const OrderSpec& spec);

// Whether `a`'s load publishes each event itself, after the previous one's
// acknowledgement, with no relay between the commit and the broker: 2PC,
// 3PC, and event sourcing (broker first; its projector builds the rows).
// Such an approach keeps order per key by construction, which its cells
// measure rather than assume; it has one deployment and no backlog.
bool PublishesItself(const Approach& a);

// The cells of `plan`'s order-per-key section, in report order: per
// approach, the relay deployments that apply (2PC: one, it has no relay),
// each healthy and under the faults that apply.
std::vector<std::pair<const Approach*, OrderSpec>> PlannedOrderCells(const Plan& plan);

// One cell, as results.json's order_per_key.cells holds it (an n/a cell is
// recorded without running).
results::OrderCell RunOrderCell(CellContext& ctx, const Approach& a, const OrderSpec& spec);

}  // namespace dw::compare
