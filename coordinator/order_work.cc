#include "coordinator/order_work.h"

#include "participants/pg_schema.h"
#include "workload/order_events.h"
#include "workload/stock.h"

namespace dw::coord {

size_t HomeShard(int64_t order_id, size_t shards) {
  return static_cast<size_t>(static_cast<uint64_t>(order_id) % shards);
}

size_t CustomerShard(const std::string& customer, size_t shards) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across builds and machines
  for (unsigned char c : customer) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h % shards);
}

std::vector<Work> PlaceOrderWork(const workload::Order& o, const Topology& t) {
  std::vector<Work> works(t.members);
  const size_t k = t.shards.size();
  Work& home = works[t.shards[k == 1 ? 0 : HomeShard(o.id, k)]];
  home.statements.push_back(workload::InsertOrderStatement(o));
  if (o.product > 0) home.statements.push_back(workload::ReserveStockStatement(o));
  if (k > 1) {
    works[t.shards[CustomerShard(o.customer, k)]].statements.push_back(SqlStatement{
        "INSERT INTO customer_ledger (order_id, customer, amount_cents) VALUES ($1, $2, $3)",
        {std::to_string(o.id), o.customer, std::to_string(o.amount_cents)}});
  }
  works[t.broker].messages.push_back(workload::OrderPlacedMessage(o));
  return works;
}

std::vector<Work> OrderEventWork(int64_t order_id, int n, const Topology& t) {
  std::vector<Work> works(t.members);
  const size_t k = t.shards.size();
  works[t.shards[k == 1 ? 0 : HomeShard(order_id, k)]].statements.push_back(
      workload::AdvanceOrderStatement(order_id, n));
  works[t.broker].messages.push_back(workload::OrderEventMessage(order_id, n));
  return works;
}

Status EnsureLedgerSchema(const std::string& dsn) {
  return ApplyDdl(dsn, 7355610,
                  {"CREATE TABLE IF NOT EXISTS customer_ledger ("
                   " order_id bigint PRIMARY KEY,"
                   " customer text NOT NULL,"
                   " amount_cents bigint NOT NULL,"
                   " created_at timestamptz NOT NULL DEFAULT now())"},
                  "customer_ledger");
}

}  // namespace dw::coord
