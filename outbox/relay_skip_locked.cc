#include "outbox/relay_skip_locked.h"

#include <algorithm>

#include "outbox/key_partitions.h"
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

// Partitioned by key (key_partitions.h): this instance's buckets only, and
// FOR UPDATE without SKIP LOCKED, so a locked row of its keys is waited
// for, never overtaken.
const char* const kPartitionedClaimSql =
    "DELETE FROM outbox_table WHERE (id, created_dttm) IN"
    " (SELECT id, created_dttm FROM outbox_table WHERE key_hash = ANY($2::int[])"
    " ORDER BY id LIMIT $1 FOR UPDATE)"
    " RETURNING id, topic, event_id, msg_key, payload";
const char* const kPartitionedMarkSql =
    "UPDATE outbox_table SET status = 'sent' WHERE (id, created_dttm) IN"
    " (SELECT id, created_dttm FROM outbox_table WHERE status = 'new'"
    " AND key_hash = ANY($2::int[]) ORDER BY id LIMIT $1 FOR UPDATE)"
    " RETURNING id, topic, event_id, msg_key, payload";

namespace {

class SkipLockedRelay : public PollingRelay {
 public:
  explicit SkipLockedRelay(const RelayOptions& opts)
      : PollingRelay(opts, Names(opts.mark_sent)),
        mark_(opts.mark_sent),
        buckets_(opts.key_partitions > 0
                     ? KeyBucketsLiteral(opts.key_partition, opts.key_partitions)
                     : "") {}

  Status Drained(bool* drained) override { return NoneUnsent(drained); }

 protected:
  Status StartStrategy() override {
    return buckets_.empty() ? Status::OK() : EnsureKeyHashColumn(opts_.dsn);
  }

 private:
  static StepNames Names(bool mark) {
    const char* what = mark ? "claim/mark batch" : "claim/delete batch";
    return StepNames{what, what, ""};
  }

  // The rows' locks are held until CommitTx (Settle) or RollbackTx (a failed
  // publish: the rows are not deleted/marked, a later batch sends them again).
  void Claim(std::vector<OutboxEvent>* events) override {
    if (buckets_.empty()) {
      *events =
          Events(Exec(BeginTx(), mark_ ? kSkipLockedMarkSql : kSkipLockedClaimSql, opts_.batch));
    } else {
      *events = Events(Exec(BeginTx(), mark_ ? kPartitionedMarkSql : kPartitionedClaimSql,
                            opts_.batch, buckets_));
    }
    std::sort(events->begin(), events->end(),
              [](const OutboxEvent& a, const OutboxEvent& b) { return a.id < b.id; });
  }

  Status Settle(const std::vector<OutboxEvent>&) override {
    CommitTx(mark_ ? "the rows are marked sent" : "the rows are gone");
    return Status::OK();
  }

  const bool mark_;
  const std::string buckets_;  // "{...}" of this instance's key buckets; empty: not partitioned
};

}  // namespace

std::unique_ptr<Relay> NewSkipLockedRelay(const RelayOptions& opts) {
  return std::make_unique<SkipLockedRelay>(opts);
}

}  // namespace dw::outbox
