#include "outbox/relay_offset_safe.h"

#include "outbox/polling_relay.h"

namespace dw::outbox {
namespace {

const char* const kSafeInitSql =
    "INSERT INTO outbox_counter (counter_key, counter_value, counter_xid) VALUES ($1, 0, '0')"
    " ON CONFLICT (counter_key) DO NOTHING";
// Taken first, before this transaction has an xid of its own (the FOR
// UPDATE below assigns one).
const char* const kHorizonSql = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text";
const char* const kSafeLockSql =
    "SELECT COALESCE(counter_xid, '0')::text, counter_value FROM outbox_counter"
    " WHERE counter_key = $1 FOR UPDATE SKIP LOCKED";
// The text copy of txid gets its own name and ORDER BY names the columns
// through the table: a bare "ORDER BY txid" would bind to the OUTPUT column
// txid::text and sort xids as strings ("10" < "9"), which both defeats the
// (txid, id) index and could publish a later transaction first and move the
// position past an earlier one - a loss.
const char* const kReadSql =
    "SELECT o.id, o.topic, o.event_id, o.msg_key, o.payload, o.txid::text AS txid_text"
    " FROM outbox_table o"
    " WHERE (o.txid, o.id) > ($1::xid8, $2::bigint) AND o.txid < $3::xid8"
    " ORDER BY o.txid, o.id LIMIT $4";
const char* const kSafeAdvanceSql =
    "UPDATE outbox_counter SET counter_xid = $2::xid8, counter_value = $3, update_dttm = now()"
    " WHERE counter_key = $1";
// Rows past the position that the horizon holds back, and who holds it.
const char* const kStallSql =
    "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x),"
    " pos AS (SELECT COALESCE(counter_xid, '0') AS xid, counter_value AS id"
    "         FROM outbox_counter WHERE counter_key = $1)"
    " SELECT (SELECT count(*) FROM outbox_table o, pos"
    "         WHERE (o.txid, o.id) > (pos.xid, pos.id) AND o.txid >= (SELECT x FROM h)),"
    "  (SELECT x FROM h)::text,"
    "  (SELECT string_agg('pid ' || pid || ' (' || COALESCE(state, '?') || ', database ' ||"
    "     COALESCE(datname, '?') || ', open ' || round(extract(epoch FROM now() - xact_start)) ||"
    "     ' s)', '; ') FROM pg_stat_activity"
    "     WHERE backend_xid IS NOT NULL AND backend_xid::text::bigint ="
    "       ((SELECT x FROM h)::text::bigint % 4294967296)),"
    "  (SELECT string_agg('prepared gid ' || gid || ' (database ' || database || ', since ' ||"
    "     prepared || ')', '; ') FROM pg_prepared_xacts"
    "     WHERE transaction::text::bigint = ((SELECT x FROM h)::text::bigint % 4294967296))";

class OffsetSafeRelay : public PollingRelay {
 public:
  explicit OffsetSafeRelay(const RelayOptions& opts)
      : PollingRelay(opts, StepNames{"read/advance", "read/advance", ""}), key_(CounterKey(opts)) {
    // The planner estimates ONE row for a row comparison on xid8 and then
    // prefers reading every matching row and sorting them over the
    // (txid, id) index order: 100 ms per batch on a 200k-row backlog instead
    // of 0.2 ms. This session runs only this strategy's statements.
    session_settings_.push_back("SET enable_sort = off");
  }

  Status StartStrategy() override { return CreateCounterRow(kSafeInitSql, key_); }

  // Takes the horizon, locks the counter row (held until Settle's COMMIT, or
  // the ROLLBACK of a failed publish: the position stays) and reads past the
  // position, below the horizon.
  void Claim(std::vector<OutboxEvent>* events) override {
    std::string horizon = Exec(BeginTx(), kHorizonSql)[0][0].as<std::string>();
    auto lock = Exec(tx(), kSafeLockSql, key_);
    if (lock.empty()) return;  // another relay holds the counter
    std::string pos_xid = lock[0][0].as<std::string>();
    int64_t pos_id = lock[0][1].as<int64_t>();
    auto rows = Exec(tx(), kReadSql, pos_xid, pos_id, horizon, opts_.batch);
    *events = Events(rows);
    if (rows.empty()) return;
    const auto& last = rows[rows.size() - 1];
    next_xid_ = last[5].as<std::string>();
    next_id_ = last[0].as<int64_t>();
  }

  Status Settle(const std::vector<OutboxEvent>&) override {
    Exec(tx(), kSafeAdvanceSql, key_, next_xid_, next_id_);
    CommitTx("position (" + next_xid_ + ", " + std::to_string(next_id_) + ")");
    return Status::OK();
  }

  // Names what holds the horizon back while rows wait behind it.
  Status Housekeeping(std::string* warning) override {
    auto now = std::chrono::steady_clock::now();
    if (now - last_check_ < std::chrono::seconds(5)) return Status::OK();
    last_check_ = now;
    pqxx::connection_base* c;
    Status s = Connection(&c);
    if (!s.ok()) return s;
    try {
      pqxx::read_transaction tx{*c};
      auto r = Exec(tx, kStallSql, key_);
      tx.commit();
      int64_t waiting = r[0][0].as<int64_t>();
      if (waiting == 0) {
        stalled_since_.reset();
        return Status::OK();
      }
      if (!stalled_since_) stalled_since_ = now;
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - *stalled_since_).count();
      if (secs < 5) return Status::OK();  // an ordinary in-flight transaction
      std::string who = r[0][2].is_null() ? "" : r[0][2].as<std::string>();
      std::string prepared = r[0][3].is_null() ? "" : r[0][3].as<std::string>();
      *warning = "offset-safe stalled for " + std::to_string(secs) +
                 " s: " + std::to_string(waiting) + " rows wait behind pg_snapshot_xmin " +
                 r[0][1].as<std::string>() + ", held by " +
                 (who.empty() && prepared.empty() ? std::string("an unknown transaction")
                                                  : who + (who.empty() ? "" : "; ") + prepared);
    } catch (...) {
      return PgError("stall check");
    }
    return Status::OK();
  }

  Status Drained(bool* drained) override { return NoneUnsent(drained); }

 private:
  std::string key_;
  std::string next_xid_;  // the position after the batch Claim read
  int64_t next_id_ = 0;
  std::chrono::steady_clock::time_point last_check_{};
  std::optional<std::chrono::steady_clock::time_point> stalled_since_;
};

}  // namespace

std::unique_ptr<Relay> NewOffsetSafeRelay(const RelayOptions& opts) {
  return std::make_unique<OffsetSafeRelay>(opts);
}

}  // namespace dw::outbox
