#include "outbox/relay_pgq.h"

#include <algorithm>
#include <string>
#include <thread>

#include "outbox/pgq_queue.h"
#include "outbox/polling_relay.h"
#include "outbox/publish_worker.h"

namespace dw::outbox {
namespace {

// A batch of at least $3 events spanning as many ticks as that takes
// (next_batch_custom's min_count: it ends at the first tick that reaches
// it, or at the last tick when that holds at most twice as many), else,
// with fewer events waiting, the next tick's batch as next_batch cuts it.
// Either returns the batch already open, if any.
const char* const kNextBatchSql =
    "SELECT COALESCE((SELECT batch_id FROM pgq.next_batch_custom($1, $2, NULL, $3, NULL)),"
    " pgq.next_batch($1, $2))";
// Declares the cursor over the batch's events (in ev_id order) and returns
// the first $2 of them; FETCH reads the rest. Columns: ev_id, ev_time,
// ev_txid, ev_retry, ev_type, ev_data, ev_extra1 .. ev_extra4.
const char* const kBatchCursorSql = "SELECT * FROM pgq.get_batch_cursor($1, 'dw_pgq_batch', $2)";
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
// Events per broker request, and per FETCH: a tick's worth at the relay's
// ticker settings (ticker_max_count).
constexpr int kChunk = 1000;
// A batch spans ticks until it holds this many events (kNextBatchSql): the
// per-batch round trips and finish_batch are paid once per this many.
constexpr int kMinBatchEvents = 8 * kChunk;

// An event inserted by another producer may lack the extras: its PgQ id
// stands in for the event id.
std::vector<OutboxEvent> CursorEvents(const pqxx::result& r) {
  std::vector<OutboxEvent> out;
  out.reserve(r.size());
  for (const auto& row : r) {
    OutboxEvent e;
    e.id = row[0].as<int64_t>();
    e.topic = row[4].as<std::string>();
    e.event_id = row[6].is_null() ? "pgq-" + std::to_string(e.id) : row[6].as<std::string>();
    e.key = row[7].is_null() ? std::string() : row[7].as<std::string>();
    e.payload = row[5].is_null() ? std::string() : row[5].as<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

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
    pqxx::connection_base* c;
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

  // A Step is one PgQ batch, its chunks published while the next is fetched:
  //   BEGIN; batch := next batch; get_batch_cursor(batch, first chunk)
  //   loop: publish chunk k (worker)  ||  FETCH chunk k+1
  //         wait for k's ack
  //   COMMIT (the cursor closes; its read-only transaction is open only
  //          while chunks are fetched)
  //   after the last chunk's ack: BEGIN; finish_batch(batch); COMMIT.
  // Any failure leaves the batch open (next_batch returns it again, and
  // every chunk of it is published again; the broker dedupes).
  Status Step(int64_t* moved) override {
    *moved = 0;
    pqxx::connection_base* c;
    Status s = Connection(&c);
    if (!s.ok()) return s;
    if (!worker_) worker_ = std::make_unique<PublishWorker>(broker_.get());
    BeginBatchTrace();
    std::vector<OutboxEvent> chunk;
    size_t published = 0;
    bool settling = false;
    try {
      if (!Open(&chunk)) {
        if (tx_open_) CommitTx("");
        tx_open_ = false;
        EndBatchTrace(/*discard=*/true);
        return Status::OK();
      }
      for (;;) {
        const bool last = static_cast<int>(chunk.size()) < kChunk;
        worker_->Start(std::move(chunk), batch_trace(), batch_trace_id());
        chunk.clear();
        if (!last) {
          auto r = tx().exec("FETCH " + std::to_string(kChunk) + " FROM dw_pgq_batch");
          TraceNote("FETCH " + std::to_string(kChunk) + " FROM dw_pgq_batch: " +
                    std::to_string(r.size()) + " events (while the previous chunk is published)");
          chunk = CursorEvents(r);
        } else {
          CommitTx("batch " + std::to_string(batch_) + " read; it stays open until finish_batch");
          tx_open_ = false;
        }
        std::vector<OutboxEvent> sent;
        s = worker_->Finish(&sent);
        if (!s.ok()) {
          if (tx_open_) RollbackTx("the cursor closes");
          tx_open_ = false;
          TraceNote("batch " + std::to_string(batch_) +
                    " stays open: next_batch returns it again, every chunk is published again");
          EndBatchTrace(/*discard=*/false);
          return s;
        }
        published += sent.size();
        if (last) break;
        if (chunk.empty()) {  // the previous chunk was the batch's last, exactly kChunk
          CommitTx("batch " + std::to_string(batch_) + " read; it stays open until finish_batch");
          tx_open_ = false;
          break;
        }
      }
      settling = true;
      Exec(BeginTx(), kFinishBatchSql, batch_);
      CommitTx("batch " + std::to_string(batch_) + " finished: the consumer moves past it");
    } catch (...) {
      if (worker_->in_flight()) {
        std::vector<OutboxEvent> dropped;
        (void)worker_->Finish(&dropped);  // the batch stays open and goes again
      }
      tx_open_ = false;
      s = PgError(settling ? "finish batch" : "next batch");
      TraceNote("error: " + s.ToString() + " (the batch stays open: next_batch returns it again)");
      EndBatchTrace(/*discard=*/false);
      return s;
    }
    EndBatchTrace(/*discard=*/false);
    *moved = static_cast<int64_t>(published);
    counters_.published += published;
    ++counters_.steps;
    return Status::OK();
  }

  // Opens the next batch that has events, in a transaction left open with
  // the cursor declared, its first chunk in *chunk. False: no batch (the
  // transaction, if any, still to be committed).
  bool Open(std::vector<OutboxEvent>* chunk) {
    bool ticked = false;
    for (int empty = 0; empty < kMaxEmptyBatches;) {
      auto r = Exec(BeginTx(), kNextBatchSql, kPgqQueue, kPgqConsumer, kMinBatchEvents);
      tx_open_ = true;
      if (r[0][0].is_null()) {
        // The consumer is at the last tick. Self-ticking: take a tick (in a
        // transaction of its own: its snapshot then covers every commit
        // before it) and look once more.
        if (!opts_.pgq_self_tick || ticked) return false;
        CommitTx("");
        Exec(BeginTx(), kTickerSql, kPgqQueue);
        CommitTx("a tick, if one was due");
        tx_open_ = false;
        ticked = true;
        continue;
      }
      batch_ = r[0][0].as<int64_t>();
      *chunk = CursorEvents(Exec(tx(), kBatchCursorSql, batch_, kChunk));
      if (!chunk->empty()) return true;
      Exec(tx(), kFinishBatchSql, batch_);
      CommitTx("empty batch " + std::to_string(batch_) + " closed");
      tx_open_ = false;
      ++empty;
    }
    return false;
  }

  // Step publishes by itself: the template's hooks are not used.
  void Claim(std::vector<OutboxEvent>*) override {}
  Status Settle(const std::vector<OutboxEvent>&) override { return Status::OK(); }

  // Destroyed before PollingRelay::broker_, which it publishes through.
  std::unique_ptr<PublishWorker> worker_;
  bool tx_open_ = false;
  int64_t batch_ = 0;
};

}  // namespace

std::unique_ptr<Relay> NewPgqRelay(const RelayOptions& opts) {
  return std::make_unique<PgqRelay>(opts);
}

}  // namespace dw::outbox
