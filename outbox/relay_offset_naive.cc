#include "outbox/relay_offset_naive.h"

#include "outbox/polling_relay.h"

namespace dw::outbox {
namespace {

const char* const kNaiveInitSql =
    "INSERT INTO outbox_counter (counter_key, counter_value) VALUES ($1, 0)"
    " ON CONFLICT (counter_key) DO NOTHING";
const char* const kNaiveLockSql =
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
const char* const kNaiveAdvanceSql =
    "UPDATE outbox_counter SET counter_value = $2, update_dttm = now() WHERE counter_key = $1";

class OffsetNaiveRelay : public PollingRelay {
 public:
  explicit OffsetNaiveRelay(const RelayOptions& opts)
      : PollingRelay(opts, StepNames{"read/advance", "read/advance", ""}), key_(CounterKey(opts)) {}

  Status StartStrategy() override { return CreateCounterRow(kNaiveInitSql, key_); }

  // Locks the counter row (held until Settle's COMMIT, or the ROLLBACK of a
  // failed publish: the position stays) and reads past the position.
  void Claim(std::vector<OutboxEvent>* events) override {
    auto lock = Exec(BeginTx(), kNaiveLockSql, key_);
    if (lock.empty()) return;  // another relay holds the counter
    int64_t pos = lock[0][0].as<int64_t>();
    auto rows = Exec(tx(), opts_.by_time ? kReadByTimeSql : kReadByIdSql, pos, opts_.batch);
    *events = Events(rows);
    if (!rows.empty()) next_ = rows[rows.size() - 1][5].as<int64_t>();
  }

  Status Settle(const std::vector<OutboxEvent>&) override {
    Exec(tx(), kNaiveAdvanceSql, key_, next_);
    CommitTx("position " + std::to_string(next_) +
             " (a row below it that commits later is never read)");
    return Status::OK();
  }

  Status Drained(bool* drained) override { return NoneUnsent(drained); }

 private:
  std::string key_;
  int64_t next_ = 0;  // the position after the batch Claim read
};

}  // namespace

std::unique_ptr<Relay> NewOffsetNaiveRelay(const RelayOptions& opts) {
  return std::make_unique<OffsetNaiveRelay>(opts);
}

}  // namespace dw::outbox
