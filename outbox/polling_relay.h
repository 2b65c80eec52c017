// What the four polling strategies share: one Postgres connection of their
// own (a PgPool of one, so a broken connection is replaced, never reused),
// a publisher (the broker's client), and the LISTEN wake-up. Internal to
// outbox/.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "outbox/event.h"
#include "outbox/publisher.h"
#include "outbox/relay.h"
#include "outbox/wakeup.h"
#include "participants/pg_pool.h"

namespace dw::outbox {

// Tracing helpers shared by every relay (RelayOptions::trace).
// "r<instance>": the instance number at the end of instance_name.
std::string TraceInstance(const RelayOptions& opts);
// "N rows (ids A..B)" for a batch read back from Postgres.
std::string DescribeRows(const std::vector<OutboxEvent>& events);

class PollingRelay : public Relay {
 public:
  Strategy strategy() const override { return opts_.strategy; }
  Status Start() override;
  bool WaitForWork(std::chrono::milliseconds max_wait) override { return wakeup_.Wait(max_wait); }
  const RelayCounters& counters() const override { return counters_; }

 protected:
  explicit PollingRelay(const RelayOptions& opts);

  // Strategy-specific setup after the connection exists (e.g. the counter row).
  virtual Status StartStrategy() { return Status::OK(); }

  // The work connection, (re)acquired when missing or broken.
  Status Connection(pqxx::connection** out);

  // Call inside a catch block: the Status for the exception being handled;
  // drops the connection when it broke.
  Status PgError(const std::string& context);

  // A prepared statement on the current connection (falls back to
  // exec_params past the pool's per-connection cache).
  template <typename... Args>
  pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql, Args&&... args) {
    std::string name = lease_.Prepared(sql);
    if (name.empty()) return tx.exec_params(sql, std::forward<Args>(args)...);
    return tx.exec_prepared(name, std::forward<Args>(args)...);
  }

  // Reads rows of (id, topic, event_id, msg_key, payload) from column `first` on.
  static std::vector<OutboxEvent> Events(const pqxx::result& r, int first = 0);

  // Starts tracing a new batch: the Trace when tracing is on and the budget
  // allows (trace_id_ names the batch), else null.
  Trace* BeginBatchTrace();
  // A traced batch that found nothing: forgotten, its number reused.
  void DiscardBatchTrace();

  // `SELECT NOT EXISTS (SELECT 1 FROM outbox_table o WHERE <unsent>)`.
  Status NoneUnsent(bool* drained);

  // Run on every new work connection (after SET synchronous_commit = off).
  std::vector<std::string> session_settings_;

  RelayOptions opts_;
  std::shared_ptr<PgPool> pool_;
  PgPool::Lease lease_;
  std::unique_ptr<Publisher> broker_;
  Wakeup wakeup_;
  RelayCounters counters_;
  std::string trace_id_;  // the batch being traced
  uint64_t trace_batches_ = 0;
};

}  // namespace dw::outbox
