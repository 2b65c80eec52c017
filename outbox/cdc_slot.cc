#include "outbox/cdc_slot.h"

#include <cstdio>
#include <vector>

#include <pqxx/pqxx>

#include "common/crc32c.h"
#include "outbox/event.h"
#include "participants/pg_pool.h"

namespace dw::outbox {
namespace {

// The columns the publication carries (what CdcChanges reads from an
// insert). A publication made before it had no list and carries every
// column: the relay reads the same columns by name from either.
constexpr char kCdcColumns[] = "id, event_id, topic, msg_key, payload";

}  // namespace

std::string DefaultSlotName(const std::string& database) {
  std::string s = "dw_outbox_";
  for (char c : database) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    s.push_back(ok ? c : '_');
  }
  if (s.size() > 63) s.resize(63);
  return s;
}

Status CdcSlot::Prepare(PgPool* pool, const RelayOptions& opts) {
  PgPool::Lease lease;
  Status s = pool->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::work tx{lease.conn()};
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(0x64770004) + ")");
    if (name_.empty()) {
      name_ = opts.slot.empty()
                  ? DefaultSlotName(tx.exec1("SELECT current_database()")[0].as<std::string>())
                  : opts.slot;
      // counter_key is the seed's varchar(50): a slot name may not fit.
      char hex[16];
      std::snprintf(hex, sizeof hex, "%08x", crc32c::Value(name_));
      snapshot_key_ = std::string("cdc-snapshot:") + hex;
    }
    if (tx.exec_params("SELECT 1 FROM pg_publication WHERE pubname = $1", opts.publication)
            .empty()) {
      // A column list (Postgres 15): only what the relay publishes. The
      // WAL sender formats every published column of every insert with
      // its output function, on one process that must keep up with all
      // writers (created_dttm's timestamptz is the costly one).
      tx.exec0("CREATE PUBLICATION " + tx.quote_name(opts.publication) +
               " FOR TABLE outbox_table (" + kCdcColumns +
               ") WITH (publish = 'insert', publish_via_partition_root = true)");
    }
    tx.exec_params(
        "INSERT INTO outbox_counter (counter_key, counter_value) VALUES ($1, 0)"
        " ON CONFLICT (counter_key) DO NOTHING",
        CounterKey(opts));
    tx.commit();
  } catch (...) {
    return StatusFromPgException(&lease, "cdc: publication");
  }
  return Status::OK();
}

Status CdcSlot::CheckUsable(PgPool* pool, bool* usable) {
  PgPool::Lease lease;
  Status s = pool->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::work tx{lease.conn()};
    bool exists =
        !tx.exec_params("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", name_).empty();
    bool copied =
        !tx.exec_params("SELECT 1 FROM outbox_counter WHERE counter_key = $1", snapshot_key_)
             .empty();
    if (exists && !copied) tx.exec_params("SELECT pg_drop_replication_slot($1)", name_);
    if (!exists && copied) {
      // The slot vanished (dropped by hand): a new one needs a new copy.
      tx.exec_params("DELETE FROM outbox_counter WHERE counter_key = $1", snapshot_key_);
    }
    tx.commit();
    *usable = exists && copied;
  } catch (...) {
    return StatusFromPgException(&lease, "cdc: slot " + name_);
  }
  return Status::OK();
}

Status CdcSlot::InitialCopy(PgPool* pool, Publisher* publisher, const std::string& snapshot,
                            int batch, uint64_t* published) {
  PgPool::Lease lease;
  Status s = pool->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::work tx{lease.conn()};
    tx.exec0("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    tx.exec0("SET TRANSACTION SNAPSHOT " + tx.quote(snapshot));
    int64_t last = -1;
    for (;;) {
      auto rows = tx.exec_params(
          "SELECT id, topic, event_id, msg_key, payload FROM outbox_table"
          " WHERE id > $1 ORDER BY id LIMIT $2",
          last, batch);
      if (rows.empty()) break;
      std::vector<OutboxEvent> events;
      for (const auto& row : rows) {
        events.push_back({row[0].as<int64_t>(), row[1].as<std::string>(), row[2].as<std::string>(),
                          row[3].as<std::string>(), row[4].as<std::string>()});
      }
      s = publisher->Publish(events);
      if (!s.ok()) break;
      *published += events.size();
      last = events.back().id;
    }
    if (s.ok()) {
      tx.exec_params(
          "INSERT INTO outbox_counter (counter_key, counter_value) VALUES ($1, 1)"
          " ON CONFLICT (counter_key) DO UPDATE SET counter_value = 1, update_dttm = now()",
          snapshot_key_);
      tx.commit();
    }
  } catch (...) {
    s = StatusFromPgException(&lease, "cdc: initial copy");
  }
  return s;
}

Status CdcSlot::RetainedWal(PgPool* pool, std::optional<int64_t>* bytes) {
  bytes->reset();
  PgPool::Lease lease;
  Status s = pool->Acquire(&lease);
  if (!s.ok()) return s;
  try {
    pqxx::nontransaction tx{lease.conn()};
    auto r = tx.exec_params(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint"
        " FROM pg_replication_slots WHERE slot_name = $1",
        name_);
    if (!r.empty() && !r[0][0].is_null()) *bytes = r[0][0].as<int64_t>();
  } catch (...) {
    return StatusFromPgException(&lease, "cdc: slot check");
  }
  return Status::OK();
}

}  // namespace dw::outbox
