// The outbox's sections of `dualwrite env` (added by the outbox's owner;
// plain SQL on the environment's DSN, no dependency on outbox/):
//   "outbox": the backlog of outbox_table (skipped when the table does not
//     exist): {"rows", "backlog" (status <> 'sent': every row for
//     skip-locked, which deletes what it sent), "locked", "oldest_unsent_age_s",
//     "partitions", "partitioner" ("partman" once pg_partman manages the
//     table, else "builtin"), "counters": [{"key", "behind",
//     "oldest_behind_age_s"}]}
//     where "behind" counts the rows past an offset strategy's position
//     (offset-naive:id|time, offset-safe) or cdc's watermark in outbox_counter;
//   "replication_slots": every slot of the cluster with the WAL it retains
//     (a stopped cdc relay makes Postgres keep all WAL since):
//     [{"slot_name", "plugin", "database", "active", "retained_wal_bytes",
//       "confirmed_flush_lsn"}] (skipped when there is none).
//   "pgq": PgQ's queues (skipped when the database has no pgq extension
//     and no pgqd runs; env/pgq_probe.cc): {"pgqd_pid" (0: not running),
//     "queues": [{"queue", "ticker_lag_s" (age of the last tick),
//     "ev_new" (events since it), "consumers": [{"consumer", "lag_s",
//     "pending_events", "current_batch"}]}]}
#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "env/probes.h"

namespace dw::env {

Status ProbeOutboxBacklog(const ProbeContext& ctx, nlohmann::json* section);
Status ProbeReplicationSlots(const ProbeContext& ctx, nlohmann::json* section);
Status ProbePgq(const ProbeContext& ctx, nlohmann::json* section);

}  // namespace dw::env
