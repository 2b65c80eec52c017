#include "outbox/relay_status.h"

#include <algorithm>

#include "outbox/pg_util.h"
#include "outbox/polling_relay.h"

namespace dw::outbox {
namespace {

// id = ANY(ARRAY(subselect)), not (id, created_dttm) IN (subselect): the
// latter's generic plan hash-joined a scan of the whole backlog (see
// relay_skip_locked.cc); ids are unique (one sequence).
const char* const kClaimSql =
    "UPDATE outbox_table SET status = 'locked', locked_at = now(), locked_by = $2"
    " WHERE id = ANY(ARRAY(SELECT id FROM outbox_table"
    "  WHERE status = 'new' ORDER BY created_dttm LIMIT $1 FOR UPDATE SKIP LOCKED))"
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

std::string IdArray(const std::vector<OutboxEvent>& events) {
  std::vector<int64_t> ids;
  ids.reserve(events.size());
  for (const auto& e : events) ids.push_back(e.id);
  return BigintArray(ids);
}

class StatusRelay : public PollingRelay {
 public:
  explicit StatusRelay(const RelayOptions& opts)
      : PollingRelay(opts, StepNames{"claim", "mark sent", " (the reaper will return the rows)"}) {}

  // 1. claim, in a transaction of its own: the rows stay 'locked' by this
  // relay, no transaction open during the publish.
  void Claim(std::vector<OutboxEvent>* events) override {
    *events = Events(Exec(BeginTx(), kClaimSql, opts_.batch, opts_.instance_name));
    CommitTx("the rows are 'locked' by this relay");
    std::sort(events->begin(), events->end(),
              [](const OutboxEvent& a, const OutboxEvent& b) { return a.id < b.id; });
  }

  // 3. mark sent. If this fails, the rows were published but stay 'locked'
  // until the reaper returns them and they are published again
  // (deduplicated).
  Status Settle(const std::vector<OutboxEvent>& events) override {
    pqxx::connection_base* c;
    Status s = Connection(&c);
    if (!s.ok()) return s;
    Exec(BeginTx(), kMarkSql, IdArray(events));
    CommitTx("status 'sent'");
    return Status::OK();
  }

  // Give the rows back now rather than after the lease (best effort: if this
  // fails too, the reaper does it).
  void PublishFailed(const std::vector<OutboxEvent>& events) override {
    try {
      pqxx::connection_base* c;
      if (Connection(&c).ok()) {
        Exec(BeginTx(), kReleaseSql, IdArray(events), opts_.instance_name);
        CommitTx("status 'new' again");
      }
    } catch (...) {
      (void)PgError("release");  // the reaper gives the rows back instead
    }
  }

  Status Housekeeping(std::string* warning) override {
    auto now = std::chrono::steady_clock::now();
    // Reap at a quarter of the lease: a dead relay's rows wait at most 1.25 leases.
    if (now - last_reap_ < opts_.lease / 4) return Status::OK();
    last_reap_ = now;
    pqxx::connection_base* c;
    Status s = Connection(&c);
    if (!s.ok()) return s;
    // Traced as a batch of its own, forgotten when it returned nothing.
    BeginBatchTrace();
    TraceNote("reaper");
    int64_t reaped = 0;
    try {
      reaped = Exec(BeginTx(), kReapSql, static_cast<int64_t>(opts_.lease.count())).affected_rows();
      CommitTx("rows locked longer than the lease are 'new' again");
    } catch (...) {
      Status e = PgError("reaper");
      EndBatchTrace(/*discard=*/false);
      return e;
    }
    EndBatchTrace(/*discard=*/reaped == 0);
    if (reaped > 0) {
      counters_.reaped += reaped;
      *warning = "reaper: returned " + std::to_string(reaped) +
                 " rows locked longer than the lease (" + std::to_string(opts_.lease.count()) +
                 " ms) to 'new'";
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
