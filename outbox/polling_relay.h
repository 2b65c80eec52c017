// What the four polling strategies share: one Postgres connection of their
// own (a PgPool of one, so a broken connection is replaced, never reused),
// a publisher (the broker's client), the LISTEN wake-up, and the loop of one
// Step. Internal to outbox/.
//
// A Step is the same for every strategy (the template method):
//   Claim    read the next batch (and lock or claim it);
//   publish  one batch request to the broker;
//   Settle   after the broker stored it: make sure it is not published
//            again (delete, mark sent, advance a position);
//   PublishFailed, instead of Settle when the broker did not store it: give
//            the batch back (by default, roll back the batch's transaction).
// A strategy supplies the three hooks; Step keeps the counters and turns a
// Postgres exception into a Status.
// pgq replaces Step (relay_pgq.h): it publishes a batch's chunks while it
// fetches the next one, which the one-publish template cannot express.
//
// Tracing (RelayOptions::trace, one id per batch) is done here too, from
// what actually runs: every statement that goes through Exec while a batch
// is traced is recorded with its parameters in place and answered with its
// command tag (DELETE 2, SELECT 1) and what it returned; BEGIN, COMMIT and
// ROLLBACK through BeginTx, CommitTx and RollbackTx.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
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
// `sql` with $1, $2, ... replaced by `params` (already quoted), its runs of
// blanks collapsed: the statement as a reader would type it.
std::string SqlWithParams(const std::string& sql, const std::vector<std::string>& params);
// The command tag of `sql`'s result `r` ("UPDATE 3"), then the range of its "id" column
// when it has one, else the values of a one-row result.
std::string DescribeResult(const std::string& sql, const pqxx::result& r);

class PollingRelay : public Relay {
 public:
  Strategy strategy() const override { return opts_.strategy; }
  Status Start() override;
  Status Step(int64_t* moved) override;
  bool WaitForWork(std::chrono::milliseconds max_wait) override { return wakeup_.Wait(max_wait); }
  const RelayCounters& counters() const override { return counters_; }

 protected:
  // How a strategy names the phases of its Step: the contexts of its errors
  // and what a failure leaves behind, for the log and the trace.
  struct StepNames {
    std::string claim;        // error context of Claim (and of PublishFailed)
    std::string settle;       // error context of Settle
    std::string settle_left;  // appended to the trace's note of a failed Settle
  };
  PollingRelay(const RelayOptions& opts, StepNames names);

  // Strategy-specific setup after the connection exists (e.g. the counter row).
  virtual Status StartStrategy() { return Status::OK(); }
  // For the offset strategies' StartStrategy: runs `init_sql` ($1 = `key`,
  // an INSERT ... ON CONFLICT DO NOTHING) in a transaction of its own.
  Status CreateCounterRow(const char* init_sql, const std::string& key);

  // The hooks of Step (above). Each runs with the connection acquired and
  // may throw a pqxx exception (Step reports it with PgError).
  // Claim: the next batch into *events, in the order to publish; empty when
  // there is nothing to do (a transaction still open is then committed).
  virtual void Claim(std::vector<OutboxEvent>* events) = 0;
  virtual Status Settle(const std::vector<OutboxEvent>& events) = 0;
  virtual void PublishFailed(const std::vector<OutboxEvent>& events);

  // The work connection, (re)acquired when missing or broken.
  Status Connection(pqxx::connection_base** out);

  // Call inside a catch block: the Status for the exception being handled;
  // drops the batch's transaction, and the connection when it broke.
  Status PgError(const std::string& context);

  // The batch's transaction, on the work connection (one at a time; the
  // claiming strategies hold it across the publish so that its row locks
  // or its counter lock last until COMMIT).
  pqxx::work& BeginTx();
  // `effect`: what the commit means, for the trace ("the rows are gone").
  void CommitTx(const std::string& effect);
  // `effect`: what the rollback means ("the rows come back").
  void RollbackTx(const std::string& effect);
  pqxx::work& tx() { return *tx_; }

  // A prepared statement on the current connection (falls back to
  // exec_params past the pool's per-connection cache); traced when a batch is.
  template <typename... Args>
  pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql, Args&&... args) {
    if (trace_) trace_->Send(trace_id_, "postgres", SqlWithParams(sql, {SqlLiteral(args)...}));
    std::string name = lease_.Prepared(sql);
    pqxx::result r = name.empty() ? tx.exec_params(sql, std::forward<Args>(args)...)
                                  : tx.exec_prepared(name, std::forward<Args>(args)...);
    if (trace_) trace_->Reply(trace_id_, "postgres", DescribeResult(sql, r));
    return r;
  }

  // Reads rows of (id, topic, event_id, msg_key, payload) from column `first` on.
  static std::vector<OutboxEvent> Events(const pqxx::result& r, int first = 0);

  // Starts tracing a new batch (trace_id_ names it) when tracing is on and
  // the budget allows: true then, and Exec and the Tx calls record into it
  // until EndBatchTrace. `discard`: the batch found nothing; it is forgotten
  // and its number reused.
  bool BeginBatchTrace();
  void EndBatchTrace(bool discard);
  // A step inside the relay, in the batch's trace if it is traced.
  void TraceNote(const std::string& what) {
    if (trace_) trace_->Note(trace_id_, what);
  }
  // The batch's trace and id (null when not traced), for a publish made elsewhere.
  Trace* batch_trace() const { return trace_; }
  const std::string& batch_trace_id() const { return trace_id_; }

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

 private:
  template <typename T>
  static std::string SqlLiteral(const T& v) {
    if constexpr (std::is_arithmetic_v<std::decay_t<T>>) {
      return std::to_string(v);
    } else {
      return QuotedText(std::string(v));
    }
  }
  // 'text' with quotes doubled; a long one (an id array) shortened in the middle.
  static std::string QuotedText(const std::string& s);

  const StepNames names_;
  std::unique_ptr<pqxx::work> tx_;
  Trace* trace_ = nullptr;  // the batch being traced, else null
  std::string trace_id_;
  uint64_t trace_batches_ = 0;
};

}  // namespace dw::outbox
