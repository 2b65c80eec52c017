// The canonical "place order" statements (workload/orders.h) as the literal
// text a lesson sends and prints: values are quoted into the SQL, so what
// the class reads is byte for byte what Postgres ran.
#pragma once

#include <string>

#include "demo/stage.h"
#include "workload/orders.h"

namespace dw::demo {

// INSERT INTO orders (id, customer, amount_cents) VALUES (...)
std::string InsertOrderSql(Session& s, const workload::Order& o);

// The outbox writer's one-statement transaction (outbox/writer.h):
// WITH ord AS (INSERT INTO orders ... RETURNING id) INSERT INTO outbox_table ... FROM ord
std::string OutboxWriteSql(Session& s, const workload::Order& o);

// The body of POST /transactions/{gid}/prepare carrying the order's OrderPlaced message.
std::string PrepareBody(const workload::Order& o);

}  // namespace dw::demo
