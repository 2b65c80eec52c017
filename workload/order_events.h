// Several events per order (`--events-per-order E`): event 1 is OrderPlaced
// (the INSERT of workload/orders.h, unchanged); events 2..E are OrderPaid,
// OrderPacked, OrderShipped, ... each its own business transaction on the
// same order: an UPDATE of the order's status and version, plus its event by
// the approach's means. The same worker issues event n only once event n-1
// was acknowledged, so the intended order per key is the order of the
// acknowledgements, and a consumer must read versions 1..E in that order.
//
// Message ids stay deterministic: event 1 keeps "order-<id>", event n >= 2
// is "order-<id>-<n>". The key is the order id, as for OrderPlaced; the
// payload names the event's type, status and version.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "participants/participant.h"
#include "workload/orders.h"

namespace dw::workload {

// The most events one order may get: far more than any experiment needs,
// and small enough that a typo (1e6) is refused instead of run.
inline constexpr int kMaxEventsPerOrder = 100;

// Adds `version` (1 = placed) and `status` to `orders` if absent. Only load
// commands with E > 1 call it, so a run with one event per order leaves the
// table exactly as it was. Idempotent.
Status EnsureOrderVersionColumns(const std::string& dsn);

// "OrderPaid", "OrderPacked", "OrderShipped", "OrderDelivered", then
// "OrderUpdated" (n >= 2; n = 1 is "OrderPlaced").
std::string OrderEventType(int n);
// The order's status once event n is applied: "placed", "paid", ... "updated".
std::string OrderEventStatus(int n);

// "order-<id>" for n = 1, "order-<id>-<n>" for n >= 2.
std::string OrderEventMessageId(int64_t order_id, int n);

// The version a message id names for `order_id`: n for "order-<id>-<n>"
// (n >= 2 a decimal number), else 1 (OrderPlaced, and any other id, so two
// messages of one key that are not numbered events still count as the same
// event: a duplicate, as verify judged them before events were numbered).
int OrderEventVersion(const std::string& message_id, int64_t order_id);

// Event n >= 2 of an order: the UPDATE that moves the order from version
// n-1 to n, parameters $1 id, $2 status, $3 version. It expects exactly one
// changed row (SqlStatement::expect_rows): when the order is not at n-1, or
// its row is not visible yet (event 1 still prepared under
// `2pc run --ack-after decision`), the work fails as Aborted and its event
// is not published; publishing it anyway would put the event ahead of the
// row's version at the broker.
SqlStatement AdvanceOrderStatement(int64_t order_id, int n);
// Its message: topic, id OrderEventMessageId, key "<id>", JSON payload
// {type, order_id, status, version}.
OutMessage OrderEventMessage(int64_t order_id, int n, const std::string& topic = kOrdersTopic);

// Runs events 2..events of one order in order, `step(n)` each, and stops at
// the first that fails (a later event must never overtake a failed one).
Status RunFollowUpEvents(int events, const std::function<Status(int n)>& step);

}  // namespace dw::workload
