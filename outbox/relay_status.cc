#include "outbox/relay_status.h"

#include <algorithm>

#include "outbox/pg_util.h"
#include "outbox/polling_relay.h"

namespace dw::outbox {
namespace {

const char* const kClaimSql =
    "UPDATE outbox_table SET status = 'locked', locked_at = now(), locked_by = $2"
    " WHERE (id, created_dttm) IN (SELECT id, created_dttm FROM outbox_table"
    "  WHERE status = 'new' ORDER BY created_dttm LIMIT $1 FOR UPDATE SKIP LOCKED)"
    " RETURNING id, topic, event_id, msg_key, payload";

// A row the reaper handed to another relay meanwhile is marked too: this
// relay did publish it.
const char* const kMarkSql =
    "UPDATE outbox_table SET status = 'sent', locked_at = NULL, locked_by = NULL"
    " WHERE id = ANY($1::bigint[]) AND status <> 'sent'";

const char* const kReleaseSql =
    "UPDATE outbox_table SET status = 'new', locked_at = NULL, locked_by = NULL"
    " WHERE id = ANY($1::bigint[]) AND status = 'locked' AND locked_by = $2";

const char* const kReapSql =
    "UPDATE outbox_table SET status = 'new', locked_at = NULL, locked_by = NULL"
    " WHERE status = 'locked' AND locked_at < now() - $1::bigint * interval '1 millisecond'";

class StatusRelay : public PollingRelay {
 public:
  explicit StatusRelay(const RelayOptions& opts) : PollingRelay(opts) {}

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
                 "BEGIN, UPDATE outbox_table SET status = 'locked', locked_at = now() WHERE ... IN "
                 "(SELECT ... WHERE status = 'new' ORDER BY created_dttm LIMIT " +
                     std::to_string(opts_.batch) +
                     " FOR UPDATE SKIP LOCKED) RETURNING ..., COMMIT");
      }
      events = Events(Exec(tx, kClaimSql, opts_.batch, opts_.instance_name));
      tx.commit();
    } catch (...) {
      Status e = PgError("claim");
      if (tr) tr->Note(trace_id_, "error: " + e.ToString());
      return e;
    }
    if (events.empty()) {
      if (tr) DiscardBatchTrace();
      return Status::OK();
    }
    if (tr) tr->Reply(trace_id_, "postgres", DescribeRows(events) + " claimed: status 'locked'");
    std::sort(events.begin(), events.end(),
              [](const OutboxEvent& a, const OutboxEvent& b) { return a.id < b.id; });
    std::vector<int64_t> ids;
    ids.reserve(events.size());
    for (const auto& e : events) ids.push_back(e.id);
    const std::string id_array = BigintArray(ids);

    s = PublishTraced(broker_.get(), events, tr, trace_id_);
    if (!s.ok()) {
      // Give the rows back now rather than after the lease (best effort: if
      // this fails too, the reaper does it).
      try {
        pqxx::connection* c2;
        if (Connection(&c2).ok()) {
          if (tr) {
            tr->Send(trace_id_, "postgres",
                     "UPDATE outbox_table SET status = 'new' WHERE id = ANY(...) AND locked_by = "
                     "me, COMMIT");
          }
          pqxx::work tx{*c2};
          Exec(tx, kReleaseSql, id_array, opts_.instance_name);
          tx.commit();
        }
      } catch (...) {
        PgError("release");
      }
      return s;
    }
    try {
      pqxx::connection* c2;
      s = Connection(&c2);
      if (!s.ok()) return s;
      if (tr) {
        tr->Send(trace_id_, "postgres",
                 "BEGIN, UPDATE outbox_table SET status = 'sent' WHERE id = ANY(...), COMMIT");
      }
      pqxx::work tx{*c2};
      Exec(tx, kMarkSql, id_array);
      tx.commit();
      if (tr) tr->Reply(trace_id_, "postgres", "committed: status 'sent'");
    } catch (...) {
      // Published but not marked: the rows stay 'locked' until the reaper
      // returns them and they are published again (deduplicated).
      Status e = PgError("mark sent");
      if (tr) tr->Note(trace_id_, "error: " + e.ToString() + " (the reaper will return the rows)");
      return e;
    }
    *moved = static_cast<int64_t>(events.size());
    counters_.published += events.size();
    ++counters_.steps;
    return Status::OK();
  }

  Status Housekeeping(std::string* warning) override {
    auto now = std::chrono::steady_clock::now();
    // Reap at a quarter of the lease: a dead relay's rows wait at most 1.25 leases.
    if (now - last_reap_ < opts_.lease / 4) return Status::OK();
    last_reap_ = now;
    pqxx::connection* c;
    Status s = Connection(&c);
    if (!s.ok()) return s;
    Trace* tr = BeginBatchTrace();
    try {
      pqxx::work tx{*c};
      if (tr) {
        tr->Send(trace_id_, "postgres",
                 "reaper: UPDATE outbox_table SET status = 'new' WHERE status = 'locked' AND "
                 "locked_at < now() - " +
                     std::to_string(opts_.lease.count()) + " ms, COMMIT");
      }
      auto r = Exec(tx, kReapSql, static_cast<int64_t>(opts_.lease.count()));
      tx.commit();
      if (tr && r.affected_rows() == 0) DiscardBatchTrace();
      if (tr && r.affected_rows() > 0) {
        tr->Reply(trace_id_, "postgres",
                  std::to_string(r.affected_rows()) + " stuck rows back to 'new'");
      }
      if (r.affected_rows() > 0) {
        counters_.reaped += r.affected_rows();
        *warning = "reaper: returned " + std::to_string(r.affected_rows()) +
                   " rows locked longer than the lease (" + std::to_string(opts_.lease.count()) +
                   " ms) to 'new'";
      }
    } catch (...) {
      return PgError("reaper");
    }
    return Status::OK();
  }

  Status Drained(bool* drained) override { return NoneUnsent(drained); }

 private:
  std::chrono::steady_clock::time_point last_reap_{};
};

}  // namespace

std::unique_ptr<Relay> NewStatusRelay(const RelayOptions& opts) {
  return std::make_unique<StatusRelay>(opts);
}

Status ReapExpiredLocks(const std::string& dsn, std::chrono::milliseconds lease, int64_t* reaped) {
  return WithConnection(dsn, "reaping expired locks", [&](pqxx::connection& c) {
    pqxx::work tx{c};
    auto r = tx.exec_params(kReapSql, static_cast<int64_t>(lease.count()));
    tx.commit();
    *reaped = r.affected_rows();
  });
}

}  // namespace dw::outbox
