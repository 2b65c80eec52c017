#include "workload/order_events.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "participants/pg_schema.h"

namespace dw::workload {

Status EnsureOrderVersionColumns(const std::string& dsn) {
  // Its own lock key: it may run while another process applies the orders
  // schema itself.
  return ApplyDdl(dsn, 7355611,
                  {"ALTER TABLE orders ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1",
                   "ALTER TABLE orders ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT "
                   "'placed'"},
                  "orders version columns");
}

std::string OrderEventType(int n) {
  static const char* kTypes[] = {"OrderPlaced", "OrderPaid", "OrderPacked", "OrderShipped",
                                 "OrderDelivered"};
  return n >= 1 && n <= 5 ? kTypes[n - 1] : "OrderUpdated";
}

std::string OrderEventStatus(int n) {
  static const char* kStatus[] = {"placed", "paid", "packed", "shipped", "delivered"};
  return n >= 1 && n <= 5 ? kStatus[n - 1] : "updated";
}

std::string OrderEventMessageId(int64_t order_id, int n) {
  return n <= 1 ? MessageIdFor(order_id) : MessageIdFor(order_id) + "-" + std::to_string(n);
}

int OrderEventVersion(const std::string& message_id, int64_t order_id) {
  const std::string base = MessageIdFor(order_id) + "-";
  if (message_id.size() <= base.size() || message_id.compare(0, base.size(), base) != 0) return 1;
  int n = 0;
  const char* first = message_id.data() + base.size();
  const char* last = message_id.data() + message_id.size();
  auto [p, ec] = std::from_chars(first, last, n);
  if (ec != std::errc() || p != last || n < 2 || *first == '0') return 1;
  return n;
}

SqlStatement AdvanceOrderStatement(int64_t order_id, int n) {
  return SqlStatement{
      "UPDATE orders SET status = $2, version = $3 WHERE id = $1 AND version = $3 - 1",
      {std::to_string(order_id), OrderEventStatus(n), std::to_string(n)},
      1};
}

OutMessage OrderEventMessage(int64_t order_id, int n, const std::string& topic) {
  nlohmann::json j = {{"type", OrderEventType(n)},
                      {"order_id", order_id},
                      {"status", OrderEventStatus(n)},
                      {"version", n}};
  return OutMessage{topic, OrderEventMessageId(order_id, n), std::to_string(order_id), j.dump()};
}

Status RunFollowUpEvents(int events, const std::function<Status(int n)>& step) {
  for (int n = 2; n <= events; ++n) {
    Status s = step(n);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace dw::workload
