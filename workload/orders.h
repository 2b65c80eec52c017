// The canonical business operation of every approach: "place order".
// One row in `orders` (Postgres) and one OrderPlaced message (topic
// `orders`, key = the order id, id = "order-<order id>", the event's
// identity in every approach) must happen atomically. 2PC, the outbox and
// the floor all use exactly these statements and messages, so `verify` and
// the benchmarks compare like with like.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "participants/participant.h"

namespace dw::workload {

inline constexpr const char* kOrdersTopic = "orders";

struct Order {
  int64_t id = 0;
  std::string customer;
  int64_t amount_cents = 0;
  int64_t placed_at_us = 0;  // unix µs when the operation started (end-to-end latency)
  // The product whose stock the order reserves in its transaction
  // (workload/stock.h, `--hot-rows`); 0 = none. Not part of the event.
  int64_t product = 0;
};

// Creates `orders` and the id sequence if absent. Idempotent.
Status EnsureOrdersSchema(const std::string& dsn);

// A deterministic order for index `i` of a run (customer, amount and
// product derive from `seed` and `i`), with the given id. The customer is
// the override's when one is set (below); the product is drawn from the
// hot-rows setting (workload/stock.h), 0 when it is off.
Order MakeOrder(int64_t id, int64_t i, uint64_t seed);

// Hostile-input experiments (`--customer-file`): every order made from now
// on gets exactly these bytes as its customer, so they travel the whole
// path of every approach: the orders row (a text parameter), the event's
// JSON payload (the outbox row, the broker) and back. Process-wide because
// every approach builds its orders through MakeOrder deep inside its own
// library (the outbox writer, the coordinator's callers); set it before the
// load starts, never while orders are being made.
//   InvalidArgument, nothing changed, when `customer` contains a NUL byte
//   (Postgres text cannot hold one: a libpq text parameter would silently
//   end there) or is not valid UTF-8 (the database encoding, and what JSON
//   requires). Empty is allowed.
Status SetCustomerOverride(const std::string& customer);
void ClearCustomerOverride();

// The checks of SetCustomerOverride, for any customer string.
Status ValidateCustomer(const std::string& customer);

// The INSERT of the order, parameterised.
SqlStatement InsertOrderStatement(const Order& o);
// The OrderPlaced event: topic `orders`, id "order-<id>", key "<id>", JSON payload.
OutMessage OrderPlacedMessage(const Order& o, const std::string& topic = kOrdersTopic);
std::string OrderPlacedPayload(const Order& o);
std::string MessageIdFor(int64_t order_id);

// Hands out order ids, unique across concurrent runs and processes: it takes
// blocks of 1000 from the sequence `orders_id_seq` (INCREMENT BY 1000), one
// round trip per block. Thread-safe.
class OrderIdAllocator {
 public:
  explicit OrderIdAllocator(std::string dsn);
  ~OrderIdAllocator();
  Status Next(int64_t* id);

 private:
  struct Conn;
  std::string dsn_;
  std::mutex mu_;
  std::unique_ptr<Conn> conn_;
  int64_t next_ = 0;
  int64_t end_ = 0;  // exclusive
};

int64_t NowMicros();  // unix time in µs

}  // namespace dw::workload
