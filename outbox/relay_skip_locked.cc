#include "outbox/relay_skip_locked.h"

#include <algorithm>

#include "outbox/polling_relay.h"

namespace dw::outbox {

const char* const kSkipLockedClaimSql =
    "DELETE FROM outbox_table WHERE (id, created_dttm) IN"
    " (SELECT id, created_dttm FROM outbox_table ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)"
    " RETURNING id, topic, event_id, msg_key, payload";

// Mark mode: the same claim as an UPDATE of the unsent rows (the partial
// index on status = 'new' serves the ORDER BY id); the row locks it takes
// are held until COMMIT exactly as the DELETE's are.
const char* const kSkipLockedMarkSql =
    "UPDATE outbox_table SET status = 'sent' WHERE (id, created_dttm) IN"
    " (SELECT id, created_dttm FROM outbox_table WHERE status = 'new'"
    " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)"
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
      const bool mark = opts_.mark_sent;
      if (tr) {
        tr->Send(trace_id_, "postgres",
                 std::string(mark ? "BEGIN, UPDATE outbox_table SET status = 'sent'"
                                  : "BEGIN, DELETE FROM outbox_table") +
                     " WHERE (id, created_dttm) IN (SELECT ..." +
                     (mark ? " WHERE status = 'new'" : "") + " ORDER BY id LIMIT " +
                     std::to_string(opts_.batch) + " FOR UPDATE SKIP LOCKED) RETURNING ...");
      }
      events = Events(Exec(tx, mark ? kSkipLockedMarkSql : kSkipLockedClaimSql, opts_.batch));
      if (events.empty()) {
        tx.commit();
        if (tr) DiscardBatchTrace();
        return Status::OK();
      }
      if (tr)
        tr->Reply(
            trace_id_, "postgres",
            DescribeRows(events) + (mark ? " marked sent" : " deleted") + ", locked until COMMIT");
      std::sort(events.begin(), events.end(),
                [](const OutboxEvent& a, const OutboxEvent& b) { return a.id < b.id; });
      s = PublishTraced(broker_.get(), events, tr, trace_id_);
      if (!s.ok()) {
        if (tr) tr->Send(trace_id_, "postgres", "ROLLBACK (the rows come back)");
        tx.abort();  // the rows are not deleted/marked: a later batch sends them again
        return s;
      }
      if (tr) tr->Send(trace_id_, "postgres", "COMMIT");
      tx.commit();
      if (tr) {
        tr->Reply(trace_id_, "postgres",
                  mark ? "committed: the rows are marked sent" : "committed: the rows are gone");
      }
    } catch (...) {
      Status e = PgError(opts_.mark_sent ? "claim/mark batch" : "claim/delete batch");
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
