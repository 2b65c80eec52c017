// The saga's two events, both on topic `orders` with key "<order id>":
// OrderPlaced is every approach's (workload/orders.h, id "order-<id>");
// OrderCancelled, id "order-<id>-cancelled", is the compensation's, so a
// consumer that saw OrderPlaced (a publish that timed out and landed all the
// same) learns that the order is off. `verify --saga` (workload/verify.h)
// tells them apart by that id suffix.
#pragma once

#include <cstdint>
#include <string>

#include "participants/participant.h"

namespace dw::saga {

inline constexpr const char* kCancelledIdSuffix = "-cancelled";

// OrderPlaced as recovery rebuilds it from the saga log's payload.
OutMessage PlacedMessage(int64_t order_id, const std::string& payload);
// {"type": "OrderCancelled", "order_id": id}.
OutMessage CancelledMessage(int64_t order_id);

}  // namespace dw::saga
