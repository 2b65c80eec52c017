#include "env/outbox_probes.h"

#include <pqxx/pqxx>

#include "common/one_line.h"

namespace dw::env {
namespace {

// Rows past each outbox_counter position, by the key conventions of
// outbox/relay.h (CounterKey, UnsentPredicate).
const char* const kCountersSql =
    "SELECT c.counter_key,"
    " (SELECT count(*) FROM outbox_table o WHERE"
    "   CASE c.counter_key"
    "     WHEN 'offset-naive:id' THEN o.id > c.counter_value"
    "     WHEN 'offset-naive:time' THEN o.created_dttm >"
    "       'epoch'::timestamptz + c.counter_value * interval '1 microsecond'"
    "     WHEN 'offset-safe' THEN (o.txid, o.id) > (COALESCE(c.counter_xid, '0'), c.counter_value)"
    "     ELSE c.counter_xid IS NULL OR o.txid >= c.counter_xid END),"
    " (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(o.created_dttm)), 0)::float8"
    "  FROM outbox_table o WHERE"
    "   CASE c.counter_key"
    "     WHEN 'offset-naive:id' THEN o.id > c.counter_value"
    "     WHEN 'offset-naive:time' THEN o.created_dttm >"
    "       'epoch'::timestamptz + c.counter_value * interval '1 microsecond'"
    "     WHEN 'offset-safe' THEN (o.txid, o.id) > (COALESCE(c.counter_xid, '0'), c.counter_value)"
    "     ELSE c.counter_xid IS NULL OR o.txid >= c.counter_xid END)"
    " FROM outbox_counter c"
    " WHERE c.counter_key IN ('offset-naive:id', 'offset-naive:time', 'offset-safe', 'cdc')"
    " ORDER BY 1";

}  // namespace

Status ProbeOutboxBacklog(const ProbeContext& ctx, nlohmann::json* section) {
  if (!ctx.postgres_running || ctx.dsn.empty()) return Status::OK();
  try {
    pqxx::connection c(ctx.dsn + " connect_timeout=5");
    pqxx::read_transaction tx(c);
    if (!tx.exec1("SELECT to_regclass('outbox_table') IS NOT NULL")[0].as<bool>()) {
      return Status::OK();
    }
    pqxx::row r = tx.exec1(
        "SELECT count(*), count(*) FILTER (WHERE status <> 'sent'),"
        " count(*) FILTER (WHERE status = 'locked'),"
        " COALESCE(EXTRACT(EPOCH FROM now() - min(created_dttm)"
        "   FILTER (WHERE status <> 'sent')), 0)::float8,"
        " (SELECT count(*) FROM pg_inherits WHERE inhparent = 'outbox_table'::regclass)"
        " FROM outbox_table");
    nlohmann::json counters = nlohmann::json::array();
    if (tx.exec1("SELECT to_regclass('outbox_counter') IS NOT NULL")[0].as<bool>()) {
      for (const auto& row : tx.exec(kCountersSql)) {
        counters.push_back({{"key", row[0].as<std::string>()},
                            {"behind", row[1].as<int64_t>()},
                            {"oldest_behind_age_s", row[2].as<double>()}});
      }
    }
    // Who creates partitions ahead: pg_partman once outbox_table is in its
    // part_config (outbox/partman.h), the built-in maintenance otherwise.
    std::string partitioner = "builtin";
    pqxx::result ext = tx.exec(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_partman'");
    if (!ext.empty()) {
      const std::string registered =
          "SELECT EXISTS (SELECT 1 FROM " + tx.quote_name(ext[0][0].as<std::string>()) +
          ".part_config WHERE parent_table = (SELECT n.nspname || '.' || c.relname"
          " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
          " WHERE c.oid = 'outbox_table'::regclass))";
      if (tx.exec1(registered)[0].as<bool>()) partitioner = "partman";
    }
    *section = {{"rows", r[0].as<int64_t>()},
                {"backlog", r[1].as<int64_t>()},
                {"locked", r[2].as<int64_t>()},
                {"oldest_unsent_age_s", r[3].as<double>()},
                {"partitions", r[4].as<int64_t>()},
                {"partitioner", partitioner},
                {"counters", counters}};
    return Status::OK();
  } catch (const std::exception& e) {
    return Status::Unavailable("outbox backlog: " + OneLine(e.what()));
  }
}

Status ProbeReplicationSlots(const ProbeContext& ctx, nlohmann::json* section) {
  if (!ctx.postgres_running || ctx.dsn.empty()) return Status::OK();
  try {
    pqxx::connection c(ctx.dsn + " connect_timeout=5");
    pqxx::nontransaction tx(c);
    pqxx::result rows = tx.exec(
        "SELECT slot_name, COALESCE(plugin, ''), COALESCE(database, ''), active,"
        " COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint,"
        " COALESCE(confirmed_flush_lsn::text, '')"
        " FROM pg_replication_slots ORDER BY slot_name");
    if (rows.empty()) return Status::OK();
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : rows) {
      list.push_back({{"slot_name", r[0].as<std::string>()},
                      {"plugin", r[1].as<std::string>()},
                      {"database", r[2].as<std::string>()},
                      {"active", r[3].as<bool>()},
                      {"retained_wal_bytes", r[4].as<int64_t>()},
                      {"confirmed_flush_lsn", r[5].as<std::string>()}});
    }
    *section = list;
    return Status::OK();
  } catch (const std::exception& e) {
    return Status::Unavailable("replication slots: " + OneLine(e.what()));
  }
}

}  // namespace dw::env
