// The outbox's tables, as the seed designed them, plus what each relay
// strategy needs. README.md (section "The outbox table") says why every
// column and index exists; in short:
//
//   outbox_table  PARTITION BY RANGE (created_dttm)
//     id            bigint, from outbox_table_id_seq   skip-locked / offset-naive order
//     created_dttm  timestamptz, default now()         the partition key; offset-naive --by time
//     entity_name   varchar(50)                        the seed's column ("order")
//     event_id      text   "order-<id>"                the broker's idempotency key
//     topic         text   "orders"                    where the relay publishes it
//     msg_key       text   "<order id>"                the message key
//     payload       text                               the event (JSON)
//     status        varchar(20) 'new'|'locked'|'sent'  the status strategy
//     locked_at, locked_by                             the status strategy's lease (reaper)
//     txid          xid8, default pg_current_xact_id() offset-safe's position; cdc's watermark
//   PRIMARY KEY (id, created_dttm)           a partitioned table's unique key must hold the key
//   outbox_table_new_idx (created_dttm) WHERE status = 'new'      the seed's partial index
//   outbox_table_locked_idx (locked_at) WHERE status = 'locked'   the reaper's scan
//   outbox_table_txid_idx (txid, id)                              offset-safe's ordered read
//
//   outbox_counter (counter_key, counter_value, counter_xid, update_dttm)
//     the seed's position table for the offset strategies (counter_xid added
//     for offset-safe's (xid, id) position and cdc's watermark).
//
// No partition is created here: see partitions.h (Postgres creates none by
// itself, and an insert that finds no partition fails).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace dw::outbox {

inline constexpr const char* kTable = "outbox_table";
inline constexpr const char* kCounterTable = "outbox_counter";
// The channel writers NOTIFY and polling relays LISTEN on. The payload is
// always empty: identical notifications of one transaction coalesce into one,
// which is all a wake-up needs.
inline constexpr const char* kChannel = "outbox_new";
// The entity_name of the place-order event.
inline constexpr const char* kOrderEntity = "order";

// Session advisory locks (pg_advisory_lock(bigint) keys, database-local).
// Every writer holds kWriterLockKey SHARED while it may still commit: a relay
// with --until-drained treats "nobody holds it" as "the writers are done".
inline constexpr int64_t kWriterLockKey = 0x64770001;
// Partition maintenance runs in one session at a time (the relay's loop and
// `outbox maintain` may overlap).
inline constexpr int64_t kMaintenanceLockKey = 0x64770002;

// Creates outbox_table (partitioned, no partitions), its indexes, and
// outbox_counter, if absent. Idempotent and safe to race with itself.
Status EnsureSchema(const std::string& dsn);

// Trigger-based capture (the seed's second CDC method): an AFTER INSERT row
// trigger on `orders` that writes the order's outbox row, so the writer only
// inserts the order. It sends no NOTIFY itself (a transaction that ran NOTIFY
// cannot be PREPAREd, and 2PC runs insert into the same `orders`); the
// writer sends it. With `later_events` (`--events-per-order` above 1; the
// version columns of workload/order_events.h exist) also an AFTER UPDATE OF
// version trigger that writes event n's row when an order moves to version
// n. Remove drops both; Installed is true when either is there.
Status InstallCaptureTrigger(const std::string& dsn, bool later_events = false);
Status RemoveCaptureTrigger(const std::string& dsn);
Status CaptureTriggerInstalled(const std::string& dsn, bool* installed);

}  // namespace dw::outbox
