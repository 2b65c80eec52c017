#include "saga/events.h"

#include <nlohmann/json.hpp>

#include "workload/orders.h"

namespace dw::saga {

OutMessage PlacedMessage(int64_t order_id, const std::string& payload) {
  return OutMessage{workload::kOrdersTopic, workload::MessageIdFor(order_id),
                    std::to_string(order_id), payload};
}

OutMessage CancelledMessage(int64_t order_id) {
  nlohmann::json j = {{"type", "OrderCancelled"}, {"order_id", order_id}};
  return OutMessage{workload::kOrdersTopic, workload::MessageIdFor(order_id) + kCancelledIdSuffix,
                    std::to_string(order_id), j.dump()};
}

}  // namespace dw::saga
