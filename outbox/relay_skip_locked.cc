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
  explicit SkipLockedRelay(const RelayOptions& opts)
      : PollingRelay(opts, Names(opts.mark_sent)), mark_(opts.mark_sent) {}

  Status Drained(bool* drained) override { return NoneUnsent(drained); }

 private:
  static StepNames Names(bool mark) {
    const char* what = mark ? "claim/mark batch" : "claim/delete batch";
    return StepNames{what, what, ""};
  }

  // The rows' locks are held until CommitTx (Settle) or RollbackTx (a failed
  // publish: the rows are not deleted/marked, a later batch sends them again).
  void Claim(std::vector<OutboxEvent>* events) override {
    *events =
        Events(Exec(BeginTx(), mark_ ? kSkipLockedMarkSql : kSkipLockedClaimSql, opts_.batch));
    std::sort(events->begin(), events->end(),
              [](const OutboxEvent& a, const OutboxEvent& b) { return a.id < b.id; });
  }

  Status Settle(const std::vector<OutboxEvent>&) override {
    CommitTx(mark_ ? "the rows are marked sent" : "the rows are gone");
    return Status::OK();
  }

  const bool mark_;
};

}  // namespace

std::unique_ptr<Relay> NewSkipLockedRelay(const RelayOptions& opts) {
  return std::make_unique<SkipLockedRelay>(opts);
}

}  // namespace dw::outbox
