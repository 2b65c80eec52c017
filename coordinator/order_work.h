// How one "place order" (workload/orders.h) becomes each participant's Work.
//
// One Postgres database (the canonical setup, identical to the outbox's so
// that verify and the benchmarks compare like with like): the `orders` row
// there, the OrderPlaced message at the broker.
//
// K >= 2 Postgres databases (shards): the order is split the way a sharded
// shop would split it:
//   - the `orders` row lives on shard  id mod K           (its home shard);
//   - a `customer_ledger` row (the amount charged to the customer) lives on
//     shard  fnv1a(customer) mod K   (where that customer's balance lives);
//   - the OrderPlaced message goes to the broker as always.
// When both land on the same shard, only that shard takes part (2PC over
// the shards actually touched, as Citus does). Atomicity then means: an
// order row, its ledger row and its message exist together or not at all,
// which tests check across all shards.
//
// An order with a product (`--hot-rows`, workload/stock.h) also reserves its
// stock on its home shard (the only shard with one Postgres database), after
// the INSERT and in the same prepared transaction: the row lock is held from
// PREPARE TRANSACTION to COMMIT PREPARED (for the --lrco member, until its
// one-phase commit that carries the decision). Every shard has the whole stock table,
// so a product's row is contended by the orders homed on that shard.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "participants/participant.h"
#include "workload/orders.h"

namespace dw::coord {

struct Topology {
  std::vector<size_t> shards;  // member index of Postgres shard k
  size_t broker = 0;           // member index of the broker
  size_t members = 0;          // total members
};

inline constexpr const char* kLedgerTable = "customer_ledger";

size_t HomeShard(int64_t order_id, size_t shards);
size_t CustomerShard(const std::string& customer, size_t shards);

// works[i] for members[i].
std::vector<Work> PlaceOrderWork(const workload::Order& o, const Topology& t);

// Event n >= 2 of an order (`--events-per-order`, workload/order_events.h):
// the UPDATE of its status and version on its home shard and the event's
// message at the broker, one 2PC transaction like the order's own.
std::vector<Work> OrderEventWork(int64_t order_id, int n, const Topology& t);

// `customer_ledger`, created when there are several shards. Idempotent.
Status EnsureLedgerSchema(const std::string& dsn);

}  // namespace dw::coord
