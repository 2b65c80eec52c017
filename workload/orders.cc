#include "workload/orders.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "participants/pg_schema.h"

namespace dw::workload {
namespace {
constexpr int64_t kBlock = 1000;

// splitmix64: a cheap, well-mixed function of (seed, i) so a run is reproducible.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status EnsureOrdersSchema(const std::string& dsn) {
  return ApplyDdl(dsn, 7355608,
                  {"CREATE TABLE IF NOT EXISTS orders ("
                   " id bigint PRIMARY KEY,"
                   " customer text NOT NULL,"
                   " amount_cents bigint NOT NULL,"
                   " created_at timestamptz NOT NULL DEFAULT now())",
                   "CREATE SEQUENCE IF NOT EXISTS orders_id_seq INCREMENT BY 1000 START WITH 1"},
                  "orders schema");
}

Order MakeOrder(int64_t id, int64_t i, uint64_t seed) {
  uint64_t r = Mix(seed ^ Mix(static_cast<uint64_t>(i)));
  Order o;
  o.id = id;
  o.customer = "customer-" + std::to_string(r % 1000);
  o.amount_cents = 100 + static_cast<int64_t>((r >> 20) % 100000);
  o.placed_at_us = NowMicros();
  return o;
}

SqlStatement InsertOrderStatement(const Order& o) {
  return SqlStatement{"INSERT INTO orders (id, customer, amount_cents) VALUES ($1, $2, $3)",
                      {std::to_string(o.id), o.customer, std::to_string(o.amount_cents)}};
}

std::string MessageIdFor(int64_t order_id) { return "order-" + std::to_string(order_id); }

std::string OrderPlacedPayload(const Order& o) {
  nlohmann::json j = {{"type", "OrderPlaced"},
                      {"order_id", o.id},
                      {"customer", o.customer},
                      {"amount_cents", o.amount_cents},
                      {"placed_at_us", o.placed_at_us}};
  return j.dump();
}

OutMessage OrderPlacedMessage(const Order& o, const std::string& topic) {
  return OutMessage{topic, MessageIdFor(o.id), std::to_string(o.id), OrderPlacedPayload(o)};
}

struct OrderIdAllocator::Conn {
  explicit Conn(const std::string& dsn) : c(dsn) {}
  pqxx::connection c;
};

OrderIdAllocator::OrderIdAllocator(std::string dsn) : dsn_(std::move(dsn)) {}
OrderIdAllocator::~OrderIdAllocator() = default;

Status OrderIdAllocator::Next(int64_t* id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (next_ >= end_) {
    try {
      if (!conn_) conn_ = std::make_unique<Conn>(dsn_);
      pqxx::nontransaction tx{conn_->c};
      int64_t start = tx.exec1("SELECT nextval('orders_id_seq')")[0].as<int64_t>();
      next_ = start;
      end_ = start + kBlock;
    } catch (const std::exception& e) {
      conn_.reset();  // a broken connection is not reused
      return Status::Unavailable(std::string("allocating order ids: ") + e.what());
    }
  }
  *id = next_++;
  return Status::OK();
}

}  // namespace dw::workload
