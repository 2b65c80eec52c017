#include "outbox/relay_skip_locked.h"

#include <algorithm>

#include "outbox/polling_relay.h"

namespace dw::outbox {

const char* const kSkipLockedClaimSql =
    "DELETE FROM outbox_table WHERE (id, created_dttm) IN"
    " (SELECT id, created_dttm FROM outbox_table ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)"
    " RETURNING id, topic, event_id, msg_key, payload";

namespace {

class SkipLockedRelay : public PollingRelay {
 public:
  explicit SkipLockedRelay(const RelayOptions& opts) : PollingRelay(opts) {}

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
                 "BEGIN, DELETE FROM outbox_table WHERE (id, created_dttm) IN (SELECT ... ORDER "
                 "BY id LIMIT " +
                     std::to_string(opts_.batch) + " FOR UPDATE SKIP LOCKED) RETURNING ...");
      }
      events = Events(Exec(tx, kSkipLockedClaimSql, opts_.batch));
      if (events.empty()) {
        tx.commit();
        if (tr) DiscardBatchTrace();
        return Status::OK();
      }
      if (tr)
        tr->Reply(trace_id_, "postgres", DescribeRows(events) + " deleted, locked until COMMIT");
      std::sort(events.begin(), events.end(),
                [](const OutboxEvent& a, const OutboxEvent& b) { return a.id < b.id; });
      s = PublishTraced(broker_.get(), events, tr, trace_id_);
      if (!s.ok()) {
        if (tr) tr->Send(trace_id_, "postgres", "ROLLBACK (the rows come back)");
        tx.abort();  // the rows are not deleted: a later batch sends them again
        return s;
      }
      if (tr) tr->Send(trace_id_, "postgres", "COMMIT");
      tx.commit();
      if (tr) tr->Reply(trace_id_, "postgres", "committed: the rows are gone");
    } catch (...) {
      Status e = PgError("claim/delete batch");
      if (tr) tr->Note(trace_id_, "error: " + e.ToString());
      return e;
    }
    *moved = static_cast<int64_t>(events.size());
    counters_.published += events.size();
    ++counters_.steps;
    return Status::OK();
  }

  Status Drained(bool* drained) override { return NoneUnsent(drained); }
};

}  // namespace

std::unique_ptr<Relay> NewSkipLockedRelay(const RelayOptions& opts) {
  return std::make_unique<SkipLockedRelay>(opts);
}

}  // namespace dw::outbox
