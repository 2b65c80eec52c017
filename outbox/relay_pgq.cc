#include "outbox/relay_pgq.h"

#include <algorithm>
#include <string>
#include <thread>

#include "outbox/pgq_queue.h"
#include "outbox/polling_relay.h"

namespace dw::outbox {
namespace {

const char* const kNextBatchSql = "SELECT pgq.next_batch($1, $2)";
// In the order of Events(): id, topic, event id, key, payload. An event
// inserted by another producer may lack the extras: its PgQ id stands in.
const char* const kBatchEventsSql =
    "SELECT ev_id AS id, ev_type, COALESCE(ev_extra1, 'pgq-' || ev_id), COALESCE(ev_extra2, ''),"
    " ev_data FROM pgq.get_batch_events($1) ORDER BY ev_id";
const char* const kFinishBatchSql = "SELECT pgq.finish_batch($1)";
const char* const kTickerSql = "SELECT pgq.ticker($1)";
// Drained, first: no batch open, the consumer at the queue's last tick, and
// no event took an ev_id since that tick (ev_new counts the queue's event
// sequence). Also the last tick's snapshot (its xmax and in-progress txids)
// and the queue's event tables, for the second check.
const char* const kAtLastTickSql =
    "SELECT c.current_batch IS NULL AND c.last_tick = q.last_tick_id AND q.ev_new = 0,"
    " pgq.quote_fqname(qq.queue_data_pfx), txid_snapshot_xmax(t.tick_snapshot),"
    " ARRAY(SELECT txid_snapshot_xip(t.tick_snapshot))::text"
    " FROM pgq.get_queue_info($1) q, pgq.get_consumer_info($1, $2) c, pgq.queue qq, pgq.tick t"
    " WHERE qq.queue_name = $1 AND t.tick_queue = qq.queue_id AND t.tick_id = q.last_tick_id";
// Drained, second: no committed event that the last tick did not see. Not
// ev_new's business: an event takes its ev_id when inserted, so one whose
// transaction was in progress at the tick (and commits after it) counts
// before the tick, yet it is in no batch until the next tick. These are
// the events pgq.batch_event_sql would read into the next batch: txid at
// or past the tick's xmax, or among its in-progress txids; our snapshot
// shows only the committed ones. Both conditions use the event tables'
// ev_txid index: cheap enough for every idle poll. $1 is the tick's xmax,
// $2 its in-progress txids; %s the queue's event tables (their parent).
const char* const kUnseenCommitSql =
    "SELECT EXISTS (SELECT 1 FROM %s ev WHERE ev.ev_txid >= $1 OR ev.ev_txid = ANY($2::bigint[]))";

// Empty batches (ticks with no event between them) closed per Step at most.
constexpr int kMaxEmptyBatches = 64;

class PgqRelay : public PollingRelay {
 public:
  explicit PgqRelay(const RelayOptions& opts)
      : PollingRelay(opts, StepNames{"next batch", "finish batch",
                                     " (the batch stays open: next_batch returns it again)"}) {}

  Status StartStrategy() override { return EnsurePgqQueue(opts_.dsn, &opts_.pgq_ticker); }

  // Batches become visible at ticks, not at commits: a NOTIFY would wake
  // the relay before the tick that makes the event readable. Poll at about
  // the ticker's pace instead.
  bool WaitForWork(std::chrono::milliseconds max_wait) override {
    std::this_thread::sleep_for(std::min(max_wait, TickPoll()));
    return true;
  }

  Status Drained(bool* drained) override {
    pqxx::connection* c;
    Status s = Connection(&c);
    if (!s.ok()) return s;
    try {
      pqxx::work tx{*c};
      if (opts_.pgq_self_tick) Exec(tx, kTickerSql, kPgqQueue);
      auto r = Exec(tx, kAtLastTickSql, kPgqQueue, kPgqConsumer);
      *drained = !r.empty() && !r[0][0].is_null() && r[0][0].as<bool>();
      if (*drained) {
        std::string sql = kUnseenCommitSql;
        sql.replace(sql.find("%s"), 2, r[0][1].as<std::string>());
        auto u = Exec(tx, sql, r[0][2].as<int64_t>(), r[0][3].as<std::string>());
        *drained = !u[0][0].as<bool>();
      }
      tx.commit();
      return Status::OK();
    } catch (...) {
      return PgError("checking the queue");
    }
  }

 private:
  std::chrono::milliseconds TickPoll() const {
    return std::max(std::chrono::milliseconds(10), opts_.pgq_ticker.max_lag / 2);
  }

  void Claim(std::vector<OutboxEvent>* events) override {
    bool ticked = false;
    for (int empty = 0; empty < kMaxEmptyBatches;) {
      auto r = Exec(BeginTx(), kNextBatchSql, kPgqQueue, kPgqConsumer);
      if (r[0][0].is_null()) {
        // The consumer is at the last tick. Self-ticking: take a tick (in a
        // transaction of its own: its snapshot then covers every commit
        // before it) and look once more.
        if (!opts_.pgq_self_tick || ticked) return;  // Step commits
        CommitTx("");
        Exec(BeginTx(), kTickerSql, kPgqQueue);
        CommitTx("a tick, if one was due");
        ticked = true;
        continue;
      }
      batch_ = r[0][0].as<int64_t>();
      *events = Events(Exec(tx(), kBatchEventsSql, batch_));
      if (!events->empty()) {
        CommitTx("batch " + std::to_string(batch_) + " is open until finish_batch");
        return;
      }
      Exec(tx(), kFinishBatchSql, batch_);
      CommitTx("empty batch " + std::to_string(batch_) + " closed");
      ++empty;
    }
  }

  Status Settle(const std::vector<OutboxEvent>&) override {
    Exec(BeginTx(), kFinishBatchSql, batch_);
    CommitTx("batch " + std::to_string(batch_) + " finished: the consumer moves past it");
    return Status::OK();
  }

  // Nothing to roll back: the claim committed. The batch stays this
  // consumer's, and the next Step reads it again.
  void PublishFailed(const std::vector<OutboxEvent>&) override {
    TraceNote("batch " + std::to_string(batch_) + " stays open: next_batch returns it again");
  }

  int64_t batch_ = 0;
};

}  // namespace

std::unique_ptr<Relay> NewPgqRelay(const RelayOptions& opts) {
  return std::make_unique<PgqRelay>(opts);
}

}  // namespace dw::outbox
