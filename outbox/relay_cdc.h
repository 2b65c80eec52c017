// cdc: log-based capture. The relay never polls outbox_table; it reads the
// outbox inserts from the WAL through a logical replication slot.
//
//   - Publication `dw_outbox_pub` FOR TABLE outbox_table WITH
//     (publish = 'insert', publish_via_partition_root = true): inserts into
//     any partition arrive as inserts into outbox_table, so partitions can
//     come and go.
//   - Slot `dw_outbox_<database>` (pgoutput; slot names are cluster-wide,
//     hence the database in the name), read with libpq over the streaming
//     replication protocol: a `replication=database` connection,
//     START_REPLICATION SLOT ... LOGICAL, COPY BOTH. Transactions arrive in
//     commit order.
//   - The flush position is confirmed to Postgres (an 'r' standby status
//     update) only after the broker acknowledged every event up to that
//     commit. A relay killed at any moment restarts from the last confirmed
//     commit: nothing is lost, and what was published but not confirmed is
//     published again (the broker deduplicates by event id).
//   - Overlap: a batch is published on a worker thread (publish_worker.h)
//     while the relay's thread reads the next one from the stream (up to
//     --batch events ahead), and it goes out as soon as the previous one
//     was acknowledged. One batch in flight at a time, so the broker gets
//     them in commit order; the position confirmed after an ack is the
//     end of the last complete transaction read before that batch was
//     handed over (cdc_backlog.h), never one read later.
//   - First start: the slot is created with EXPORT_SNAPSHOT and the rows
//     already in outbox_table at that instant are published from that exact
//     snapshot (a slot only sees what commits after it exists). The slot is
//     trusted only once that initial copy finished (outbox_counter key
//     "cdc-snapshot:<crc32c of the slot name>"); a slot without it is
//     dropped and made again.
//   - Watermark for partition maintenance: every few seconds the relay notes
//     (pg_snapshot_xmin, pg_current_wal_lsn); once the confirmed position
//     passes that LSN, every transaction below that xmin has been streamed
//     and acknowledged, and outbox_counter "cdc".counter_xid = xmin: rows
//     with txid below it are sent and their partitions may be dropped.
//   - Housekeeping warns when the slot retains more WAL than
//     RelayOptions::slot_warn_bytes (a stopped cdc relay makes Postgres keep
//     every WAL segment since; `dualwrite env` shows it too).
//   - `--cdc-read sql` (RelayOptions::cdc_read, cdc_sql_reader.h): no WAL
//     sender. A temporary copy of the slot is read in chunks with
//     pg_logical_slot_get_binary_changes (the same pgoutput messages, as
//     rows), the next chunk decoded by the server while this one's batches
//     are published as above, and the slot itself is moved with
//     pg_replication_slot_advance to the last acknowledged commit once per
//     chunk (or every 10 s). Less CPU per event on a backlog; but every get
//     and advance decodes the WAL from its slot's restart_lsn, so a relay
//     keeping up with live writers re-reads up to a running-xacts interval
//     of WAL per poll: the stream is the default.
// One instance per slot (Postgres refuses a second consumer): --instances 1.
//
// The parts: cdc_slot.h (publication, slot, initial copy), cdc_stream.h
// (the replication connection), cdc_sql_reader.h (--cdc-read sql),
// cdc_changes.h (pgoutput messages to events), cdc_backlog.h (what may be
// confirmed), publish_worker.h, cdc_watermark.h. relay_cdc.cc runs them.
#pragma once

#include <memory>

#include "outbox/cdc_slot.h"  // DefaultSlotName
#include "outbox/relay.h"

namespace dw::outbox {

std::unique_ptr<Relay> NewCdcRelay(const RelayOptions& opts);

}  // namespace dw::outbox
