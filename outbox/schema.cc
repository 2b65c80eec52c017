#include "outbox/schema.h"

#include <pqxx/pqxx>

#include "outbox/pg_util.h"

namespace dw::outbox {
namespace {

// Serialises concurrent first runs (writers and relays start together):
// CREATE ... IF NOT EXISTS can still collide on a catalog unique index when
// two sessions race.
constexpr int64_t kSchemaLockKey = 0x64770003;

const char* const kSchemaSql[] = {
    "CREATE SEQUENCE IF NOT EXISTS outbox_table_id_seq",
    // created_dttm is timestamptz, not the seed's timestamp: partition bounds
    // and the offset-naive position must mean the same instant whatever the
    // session's TimeZone.
    "CREATE TABLE IF NOT EXISTS outbox_table ("
    " id bigint NOT NULL DEFAULT nextval('outbox_table_id_seq'),"
    " created_dttm timestamptz NOT NULL DEFAULT now(),"
    " entity_name varchar(50) NOT NULL,"
    " event_id text NOT NULL,"
    " topic text NOT NULL,"
    " msg_key text NOT NULL,"
    " payload text NOT NULL,"
    " status varchar(20) NOT NULL DEFAULT 'new',"
    " locked_at timestamptz,"
    " locked_by text,"
    " txid xid8 NOT NULL DEFAULT pg_current_xact_id(),"
    " PRIMARY KEY (id, created_dttm)"
    ") PARTITION BY RANGE (created_dttm)",
    "ALTER SEQUENCE outbox_table_id_seq OWNED BY outbox_table.id",
    "CREATE INDEX IF NOT EXISTS outbox_table_new_idx ON outbox_table (created_dttm)"
    " WHERE status = 'new'",
    "CREATE INDEX IF NOT EXISTS outbox_table_locked_idx ON outbox_table (locked_at)"
    " WHERE status = 'locked'",
    "CREATE INDEX IF NOT EXISTS outbox_table_txid_idx ON outbox_table (txid, id)",
    "CREATE TABLE IF NOT EXISTS outbox_counter ("
    " counter_key varchar(50) PRIMARY KEY,"
    " counter_value bigint NOT NULL DEFAULT 0,"
    " counter_xid xid8,"
    " update_dttm timestamptz NOT NULL DEFAULT now())",
};

// The payload mirrors workload::OrderPlacedPayload (same keys); placed_at_us
// is the transaction's start, the closest the database knows to "when the
// operation started".
const char* const kTriggerFunctionSql =
    "CREATE OR REPLACE FUNCTION dw_outbox_capture_order() RETURNS trigger"
    " LANGUAGE plpgsql AS $fn$"
    " BEGIN"
    "  INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload)"
    "  VALUES ('order', 'order-' || NEW.id, 'orders', NEW.id::text,"
    "          json_build_object('type', 'OrderPlaced', 'order_id', NEW.id,"
    "                            'customer', NEW.customer, 'amount_cents', NEW.amount_cents,"
    "                            'placed_at_us',"
    "                            (extract(epoch FROM now()) * 1000000)::bigint)::text);"
    "  RETURN NULL;"
    " END $fn$";

// Events 2..E (workload/order_events.h) with the trigger: the UPDATE that
// moves an order to its next version writes that event's row, with the
// message id, type and status an explicit writer gives it. Only on a version
// that went up, so an UPDATE of anything else writes nothing.
const char* const kAdvanceTriggerFunctionSql =
    "CREATE OR REPLACE FUNCTION dw_outbox_capture_advance() RETURNS trigger"
    " LANGUAGE plpgsql AS $fn$"
    " BEGIN"
    "  INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload)"
    "  VALUES ('order', 'order-' || NEW.id || '-' || NEW.version, 'orders', NEW.id::text,"
    "          json_build_object('type', CASE NEW.version WHEN 2 THEN 'OrderPaid'"
    "                              WHEN 3 THEN 'OrderPacked' WHEN 4 THEN 'OrderShipped'"
    "                              WHEN 5 THEN 'OrderDelivered' ELSE 'OrderUpdated' END,"
    "                            'order_id', NEW.id, 'status', NEW.status,"
    "                            'version', NEW.version)::text);"
    "  RETURN NULL;"
    " END $fn$";

bool TriggerExists(pqxx::work& tx, const char* name) {
  return tx
      .exec_params1(
          "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = $1"
          " AND tgrelid = 'orders'::regclass)",
          name)[0]
      .as<bool>();
}

}  // namespace

Status EnsureSchema(const std::string& dsn) {
  return WithConnection(dsn, "creating the outbox schema", [](pqxx::connection& c) {
    // Fast path without DDL: even CREATE INDEX IF NOT EXISTS takes a SHARE
    // lock on the table before it finds the index exists, which deadlocks
    // with writers inserting at that moment. Relays and writers call this
    // on every start, so a complete schema must cost no lock at all.
    {
      pqxx::nontransaction probe{c};
      if (probe
              .exec1("SELECT to_regclass('outbox_table') IS NOT NULL"
                     " AND to_regclass('outbox_counter') IS NOT NULL"
                     " AND to_regclass('outbox_table_new_idx') IS NOT NULL"
                     " AND to_regclass('outbox_table_locked_idx') IS NOT NULL"
                     " AND to_regclass('outbox_table_txid_idx') IS NOT NULL")[0]
              .as<bool>()) {
        return;
      }
    }
    pqxx::work tx{c};
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kSchemaLockKey) + ")");
    for (const char* sql : kSchemaSql) tx.exec0(sql);
    tx.commit();
  });
}

Status InstallCaptureTrigger(const std::string& dsn, bool later_events) {
  return WithConnection(dsn, "installing the capture trigger", [&](pqxx::connection& c) {
    pqxx::work tx{c};
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kSchemaLockKey) + ")");
    tx.exec0(kTriggerFunctionSql);
    if (!TriggerExists(tx, "dw_outbox_capture")) {
      tx.exec0(
          "CREATE TRIGGER dw_outbox_capture AFTER INSERT ON orders"
          " FOR EACH ROW EXECUTE FUNCTION dw_outbox_capture_order()");
    }
    if (later_events) {
      tx.exec0(kAdvanceTriggerFunctionSql);
      if (!TriggerExists(tx, "dw_outbox_capture_advance")) {
        tx.exec0(
            "CREATE TRIGGER dw_outbox_capture_advance AFTER UPDATE OF version ON orders"
            " FOR EACH ROW WHEN (NEW.version > OLD.version)"
            " EXECUTE FUNCTION dw_outbox_capture_advance()");
      }
    }
    tx.commit();
  });
}

Status RemoveCaptureTrigger(const std::string& dsn) {
  return WithConnection(dsn, "removing the capture trigger", [](pqxx::connection& c) {
    pqxx::work tx{c};
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kSchemaLockKey) + ")");
    if (tx.exec1("SELECT to_regclass('orders') IS NOT NULL")[0].as<bool>()) {
      tx.exec0("DROP TRIGGER IF EXISTS dw_outbox_capture ON orders");
      tx.exec0("DROP TRIGGER IF EXISTS dw_outbox_capture_advance ON orders");
    }
    tx.commit();
  });
}

Status CaptureTriggerInstalled(const std::string& dsn, bool* installed) {
  return WithConnection(dsn, "looking for the capture trigger", [&](pqxx::connection& c) {
    pqxx::nontransaction tx{c};
    *installed = tx.exec1(
                       "SELECT to_regclass('orders') IS NOT NULL AND EXISTS ("
                       " SELECT 1 FROM pg_trigger"
                       " WHERE tgname IN ('dw_outbox_capture', 'dw_outbox_capture_advance')"
                       " AND tgrelid = to_regclass('orders'))")[0]
                     .as<bool>();
  });
}

}  // namespace dw::outbox
