#include "outbox/relay_offset_naive.h"

#include "outbox/polling_relay.h"

namespace dw::outbox {
namespace {

const char* const kInitSql =
    "INSERT INTO outbox_counter (counter_key, counter_value) VALUES ($1, 0)"
    " ON CONFLICT (counter_key) DO NOTHING";
const char* const kLockSql =
    "SELECT counter_value FROM outbox_counter WHERE counter_key = $1 FOR UPDATE SKIP LOCKED";
const char* const kReadByIdSql =
    "SELECT id, topic, event_id, msg_key, payload, id FROM outbox_table"
    " WHERE id > $1 ORDER BY id LIMIT $2";
// Positions in µs since the epoch: integer arithmetic both ways, no
// floating-point rounding of the boundary.
const char* const kReadByTimeSql =
    "SELECT id, topic, event_id, msg_key, payload,"
    " (extract(epoch FROM created_dttm) * 1000000)::bigint FROM outbox_table"
    " WHERE created_dttm > 'epoch'::timestamptz + $1::bigint * interval '1 microsecond'"
    " ORDER BY created_dttm, id LIMIT $2";
const char* const kAdvanceSql =
    "UPDATE outbox_counter SET counter_value = $2, update_dttm = now() WHERE counter_key = $1";

class OffsetNaiveRelay : public PollingRelay {
 public:
  explicit OffsetNaiveRelay(const RelayOptions& opts)
      : PollingRelay(opts), key_(CounterKey(opts)) {}

  Status StartStrategy() override {
    try {
      pqxx::work tx{lease_.conn()};
      Exec(tx, kInitSql, key_);
      tx.commit();
      return Status::OK();
    } catch (...) {
      return PgError("creating the counter row");
    }
  }

  Status Step(int64_t* moved) override {
    *moved = 0;
    pqxx::connection* c;
    Status s = Connection(&c);
    if (!s.ok()) return s;
    std::vector<OutboxEvent> events;
    Trace* tr = BeginBatchTrace();
    try {
      pqxx::work tx{*c};
      if (tr) {
        tr->Send(trace_id_, "postgres",
                 "BEGIN, SELECT counter_value FROM outbox_counter WHERE counter_key = '" + key_ +
                     "' FOR UPDATE SKIP LOCKED");
      }
      auto lock = Exec(tx, kLockSql, key_);
      if (lock.empty()) {  // another relay holds the counter
        tx.commit();
        if (tr) DiscardBatchTrace();
        return Status::OK();
      }
      int64_t pos = lock[0][0].as<int64_t>();
      if (tr) {
        tr->Reply(trace_id_, "postgres", "position " + std::to_string(pos));
        tr->Send(trace_id_, "postgres",
                 std::string(opts_.by_time ? "SELECT ... FROM outbox_table WHERE created_dttm > "
                                             "position ORDER BY created_dttm, id LIMIT "
                                           : "SELECT ... FROM outbox_table WHERE id > " +
                                                 std::to_string(pos) + " ORDER BY id LIMIT ") +
                     std::to_string(opts_.batch));
      }
      auto rows = Exec(tx, opts_.by_time ? kReadByTimeSql : kReadByIdSql, pos, opts_.batch);
      events = Events(rows);
      if (events.empty()) {
        tx.commit();
        if (tr) DiscardBatchTrace();
        return Status::OK();
      }
      if (tr) tr->Reply(trace_id_, "postgres", DescribeRows(events));
      s = PublishTraced(broker_.get(), events, tr, trace_id_);
      if (!s.ok()) {
        if (tr) tr->Send(trace_id_, "postgres", "ROLLBACK (the position stays)");
        tx.abort();
        return s;
      }
      const int64_t next = rows[rows.size() - 1][5].as<int64_t>();
      if (tr) {
        tr->Send(trace_id_, "postgres",
                 "UPDATE outbox_counter SET counter_value = " + std::to_string(next) + ", COMMIT");
      }
      Exec(tx, kAdvanceSql, key_, next);
      tx.commit();
      if (tr) {
        tr->Reply(trace_id_, "postgres",
                  "committed: position " + std::to_string(next) +
                      " (a row below it that commits later is never read)");
      }
    } catch (...) {
      Status e = PgError("read/advance");
      if (tr) tr->Note(trace_id_, "error: " + e.ToString());
      return e;
    }
    *moved = static_cast<int64_t>(events.size());
    counters_.published += events.size();
    ++counters_.steps;
    return Status::OK();
  }

  Status Drained(bool* drained) override { return NoneUnsent(drained); }

 private:
  std::string key_;
};

}  // namespace

std::unique_ptr<Relay> NewOffsetNaiveRelay(const RelayOptions& opts) {
  return std::make_unique<OffsetNaiveRelay>(opts);
}

}  // namespace dw::outbox
