#include "saga/schema.h"

#include "participants/pg_schema.h"
#include "workload/orders.h"

namespace dw::saga {

Status EnsureSagaSchema(const std::string& dsn) {
  Status s = workload::EnsureOrdersSchema(dsn);
  if (!s.ok()) return s;
  return ApplyDdl(
      dsn, 7355620,
      {"CREATE TABLE IF NOT EXISTS saga_orders ("
       " order_id bigint PRIMARY KEY,"
       " status text NOT NULL CHECK (status IN ('pending', 'placed', 'cancelled')),"
       " updated_at timestamptz NOT NULL DEFAULT now())",
       "CREATE TABLE IF NOT EXISTS saga_log ("
       " saga_id bigint PRIMARY KEY,"
       " step text NOT NULL,"
       " state text NOT NULL CHECK (state IN ('pending', 'done', 'compensating', 'compensated')),"
       " in_doubt boolean NOT NULL DEFAULT false,"
       " payload text NOT NULL,"
       " attempts integer NOT NULL DEFAULT 0,"
       " updated_at timestamptz NOT NULL DEFAULT now())",
       // Recovery lists the open sagas only: a partial index stays as small as they are.
       "CREATE INDEX IF NOT EXISTS saga_log_open ON saga_log (saga_id)"
       " WHERE state IN ('pending', 'compensating')",
       "CREATE TABLE IF NOT EXISTS saga_barrier ("
       " saga_id bigint NOT NULL,"
       " step text NOT NULL,"
       " op text NOT NULL,"
       " created_at timestamptz NOT NULL DEFAULT now(),"
       " PRIMARY KEY (saga_id, step, op))"},
      "saga schema");
}

}  // namespace dw::saga
