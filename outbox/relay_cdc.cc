#include "outbox/relay_cdc.h"

#include <poll.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "outbox/cdc_backlog.h"
#include "outbox/cdc_changes.h"
#include "outbox/cdc_slot.h"
#include "outbox/cdc_sql_reader.h"
#include "outbox/cdc_stream.h"
#include "outbox/cdc_watermark.h"
#include "outbox/event.h"
#include "outbox/pgoutput.h"
#include "outbox/polling_relay.h"
#include "outbox/publish_worker.h"
#include "outbox/publisher.h"
#include "participants/pg_pool.h"

namespace dw::outbox {
namespace {

using Clock = std::chrono::steady_clock;

// wal_sender_timeout defaults to 60 s: report well within it.
constexpr auto kFeedbackInterval = std::chrono::seconds(10);
constexpr auto kWatermarkInterval = std::chrono::seconds(2);
constexpr auto kSlotCheckInterval = std::chrono::seconds(10);
// How long Step waits at most for the stream or the batch in flight before
// looking at the feedback clock again.
constexpr int kInFlightPollMs = 1000;

class CdcRelay : public Relay {
 public:
  explicit CdcRelay(const RelayOptions& opts) : opts_(opts) {}
  ~CdcRelay() override { CloseStream(); }

  Strategy strategy() const override { return Strategy::kCdc; }
  const RelayCounters& counters() const override { return counters_; }

  Status Start() override {
    if (!pool_) {
      PgPool::Options po;
      po.dsn = opts_.dsn;
      po.max_connections = 1;
      po.application_name = "dualwrite-relay-cdc";
      Status s = PgPool::Create(po, &pool_);
      if (!s.ok()) return s;
    }
    if (!broker_) {
      Status s = MakePublisher(opts_, &broker_);
      if (!s.ok()) return s;
    }
    if (!worker_) worker_ = std::make_unique<PublishWorker>(broker_.get());
    return EnsureStreaming();
  }

  // Reads the stream ahead while the previous batch is in flight (see
  // Overlap in relay_cdc.h). Returns when a batch was acknowledged (*moved
  // its size, the next batch already in flight when one was read) or failed,
  // or when nothing is buffered, in flight or available (*moved 0).
  Status Step(int64_t* moved) override {
    *moved = 0;
    Status s = EnsureStreaming();
    if (!s.ok()) return s;
    for (;;) {
      if (backlog_.in_flight() && worker_->Done()) return FinishPublish(moved);
      // Events read earlier whose publish failed go first: read only into
      // an empty buffer when nothing is in flight.
      if (backlog_.in_flight() || backlog_.empty()) {
        // --cdc-read sql with nothing to publish: wait for the chunk being read.
        s = sql_mode() ? ReadSql(/*wait=*/!backlog_.in_flight()) : ReadAvailable();
        if (!s.ok()) {
          CloseStream();
          return s;
        }
      }
      if (!backlog_.in_flight()) {
        if (!backlog_.empty()) {
          StartPublish();
          continue;  // read the next batch meanwhile
        }
        if (!trace_id_.empty() && !backlog_.in_txn()) {  // a traced batch that carried no event
          opts_.trace->Discard(trace_id_);
          --trace_batches_;
          trace_id_.clear();
        }
        // Nothing pending: what the server has sent us is all settled.
        backlog_.ConfirmIdle();
        return MaybeSendFeedback();
      }
      s = MaybeSendFeedback();
      if (!s.ok()) return s;
      // In flight: wait for its outcome, and for more of the stream while
      // the read-ahead buffer has room.
      pollfd p[2] = {{worker_->fd(), POLLIN, 0}, {stream_.socket(), POLLIN, 0}};
      const bool room = static_cast<int>(backlog_.size()) < opts_.batch;
      if (sql_mode()) {
        if (room && !sql_.exhausted()) continue;  // decode more of the chunk meanwhile
        // The next chunk's result, read ahead: take it when it is all in,
        // and keep its socket drained meanwhile.
        const bool reading = sql_.pending() && !sql_.Ready();
        if (room && sql_.exhausted() && sql_.pending() && !reading) continue;
        p[1] = {sql_.socket(), POLLIN, 0};
        poll(p, reading ? 2 : 1, kInFlightPollMs);
        continue;
      }
      poll(p, room ? 2 : 1, kInFlightPollMs);
    }
  }

  bool WaitForWork(std::chrono::milliseconds max_wait) override {
    if (backlog_.in_flight()) return true;                                 // Step waits for it
    if (sql_mode() && (!sql_.exhausted() || sql_.pending())) return true;  // Step waits for it
    if (!stream_.open()) {  // also --cdc-read sql: the next read is the next Step's
      std::this_thread::sleep_for(max_wait);
      return false;
    }
    pollfd p{stream_.socket(), POLLIN, 0};
    return poll(&p, 1, static_cast<int>(max_wait.count())) > 0;
  }

  Status Housekeeping(std::string* warning) override {
    if (!streaming_) return Status::OK();
    auto now = Clock::now();
    try {
      if (now - last_watermark_ >= kWatermarkInterval) {
        last_watermark_ = now;
        // See relay_cdc.h, "Watermark".
        Status s = watermark_.Advance(pool_.get(), CounterKey(opts_), reported_);
        if (!s.ok()) return s;
      }
      if (now - last_slot_check_ >= kSlotCheckInterval) {
        last_slot_check_ = now;
        std::optional<int64_t> retained;
        Status s = slot_.RetainedWal(pool_.get(), &retained);
        if (!s.ok()) return s;
        if (retained && *retained > opts_.slot_warn_bytes) {
          *warning = "replication slot " + slot_.name() + " retains " +
                     std::to_string(*retained >> 20) + " MiB of WAL (warning threshold " +
                     std::to_string(opts_.slot_warn_bytes >> 20) + " MiB)";
        }
      }
    } catch (...) {
      return Status::IOError("cdc: housekeeping failed");
    }
    return Status::OK();
  }

  // Drained: the stream has been read past the WAL position current when
  // first asked (the writers were already gone then), and everything read
  // was published and confirmed.
  Status Drained(bool* drained) override {
    *drained = false;
    if (!streaming_) return Status::OK();
    if (drain_target_ == 0) {
      PgPool::Lease lease;
      Status s = pool_->Acquire(&lease);
      if (!s.ok()) return s;
      try {
        pqxx::nontransaction tx{lease.conn()};
        pgoutput::ParseLsn(tx.exec1("SELECT pg_current_wal_lsn()::text")[0].as<std::string>(),
                           &drain_target_);
      } catch (...) {
        return StatusFromPgException(&lease, "cdc: reading the WAL position");
      }
    }
    *drained = backlog_.wal_end() >= drain_target_ && backlog_.empty() && !backlog_.in_flight() &&
               !backlog_.in_txn() && (!sql_mode() || (sql_.exhausted() && !sql_.pending()));
    if (*drained && sql_mode()) return FinishAdvances();
    if (!*drained) {
      // --cdc-read sql, everything read was published: read up to the WAL's
      // end now (the next Step takes it), not after a poll interval.
      if (sql_mode() && sql_.exhausted() && !sql_.pending() && backlog_.empty() &&
          !backlog_.in_flight()) {
        return sql_.SendNext();
      }
      // Ask the server to report how far it has read (a keepalive).
      return SendFeedback(/*reply_requested=*/true);
    }
    return Status::OK();
  }

 private:
  // Connects, makes sure publication, slot and initial copy exist, and
  // starts streaming. No-op while streaming.
  Status EnsureStreaming() {
    if (streaming_) return Status::OK();
    CloseStream();
    Status s = slot_.Prepare(pool_.get(), opts_);
    if (!s.ok()) return s;
    s = stream_.Connect(opts_.dsn);
    if (!s.ok()) {
      CloseStream();
      return s;
    }
    bool snapshot_done = false;
    s = slot_.CheckUsable(pool_.get(), &snapshot_done);
    if (!s.ok()) return Fail(s);
    if (!snapshot_done) {
      s = CreateSlotWithInitialCopy();
      if (!s.ok()) return Fail(s);
    }
    if (sql_mode()) return StartSqlReads();
    const std::string start_id = TraceInstance(opts_) + ".start";
    s = stream_.Start(slot_.name(), opts_.publication, StartTrace(start_id), start_id);
    if (!s.ok()) return Fail(s);
    streaming_ = true;
    changes_.Restart();
    backlog_.Restart();
    last_feedback_ = Clock::now();
    return Status::OK();
  }

  // The trace of the relay's start (slot, initial copy, START_REPLICATION),
  // or null when not traced.
  Trace* StartTrace(const std::string& start_id) {
    return opts_.trace && (opts_.trace->Traced(start_id) || opts_.trace->Begin(start_id))
               ? opts_.trace
               : nullptr;
  }

  Status Fail(Status s) {
    CloseStream();
    return s;
  }

  void CloseStream() {
    if (worker_ && worker_->in_flight()) {
      // Its outcome no longer matters: the restarted stream sends its
      // events again from the confirmed position (the broker dedupes them).
      std::vector<OutboxEvent> dropped;
      (void)worker_->Finish(&dropped);
    }
    stream_.Close();
    sql_.Close();
    streaming_ = false;
  }

  bool sql_mode() const { return opts_.cdc_read == RelayOptions::CdcRead::kSql; }

  // --cdc-read sql (cdc_sql_reader.h): the replication connection was only
  // needed to make the slot; the reads go over plain connections, from a
  // temporary copy of the slot made now, at its confirmed position.
  Status StartSqlReads() {
    stream_.Close();
    Status s = sql_.Open(opts_.dsn, slot_.name(), opts_.publication, opts_.cdc_sql_chunk_changes);
    if (!s.ok()) return Fail(s);
    const std::string start_id = TraceInstance(opts_) + ".start";
    if (opts_.trace && (opts_.trace->Traced(start_id) || opts_.trace->Begin(start_id))) {
      opts_.trace->Note(
          start_id, "reading " + sql_.copy_name() + ", a temporary copy of slot " + slot_.name() +
                        ", with pg_logical_slot_get_binary_changes, chunks of up "
                        "to " +
                        std::to_string(opts_.cdc_sql_chunk_changes) + " changes, one read ahead");
    }
    s = sql_.SendNext();
    if (!s.ok()) return Fail(s);
    streaming_ = true;
    changes_.Restart();
    backlog_.Restart();
    last_feedback_ = Clock::now();
    return Status::OK();
  }

  // ReadAvailable for --cdc-read sql: the rows of the chunk in hand, up to a
  // batch. When it is exhausted, the next chunk: waited for when `wait`
  // (nothing to publish meanwhile), else taken only once its result is in.
  // A full chunk's successor is read ahead at once (the copy was consumed up
  // to its end); after one that reached the WAL's end, the next read starts
  // only once everything read was published (an idle relay's next Step), so
  // a relay that keeps up does not loop over empty reads.
  Status ReadSql(bool wait) {
    if (sql_.exhausted()) {
      Status s;
      if (!sql_.pending()) {
        if (backlog_.in_flight() || !backlog_.empty() || backlog_.in_txn()) return Status::OK();
        s = sql_.SendNext();
        if (!s.ok()) return s;
      }
      if (!wait && !sql_.Ready()) return Status::OK();
      s = sql_.TakeChunk();
      if (!s.ok()) return s;
      advance_due_ = true;  // the durable slot moves once per chunk (MaybeSendFeedback)
      if (sql_.full()) {
        s = sql_.SendNext();
        if (!s.ok()) return s;
      }
    }
    // A batch ends on a commit (a chunk holds whole transactions), so its ack
    // confirms all of it.
    std::string_view m;
    while ((static_cast<int>(backlog_.size()) < opts_.batch || backlog_.in_txn()) &&
           sql_.Next(&m)) {
      Status s = HandleChange(m);
      if (!s.ok()) return s;
    }
    // All of the WAL up to the flush position read before the get is in
    // hand: the server's WAL end, as a keepalive reports it.
    if (sql_.exhausted() && sql_.reached_end()) backlog_.SawWalEnd(sql_.flush_lsn());
    return Status::OK();
  }

  // The standby status update of --cdc-read sql: the durable slot, never the
  // copy, and only to what the broker acknowledged.
  Status AdvanceSlot() {
    if (backlog_.confirmed() <= reported_) {
      bool done = false;
      return sql_.AdvanceDone(/*wait=*/false, &done);  // reports a failed one
    }
    bool sent = false;
    Status s = sql_.Advance(backlog_.confirmed(), &sent);
    if (!s.ok() || !sent) return s;  // not sent: the next call sends it
    reported_ = backlog_.confirmed();
    last_feedback_ = Clock::now();
    advance_due_ = false;
    return Status::OK();
  }

  // --cdc-read sql, drained: the slot advanced to everything acknowledged
  // before the relay reports it.
  Status FinishAdvances() {
    for (;;) {
      bool done = false;
      Status s = sql_.AdvanceDone(/*wait=*/true, &done);
      if (!s.ok() || backlog_.confirmed() <= reported_) return s;
      s = AdvanceSlot();
      if (!s.ok()) return s;
    }
  }

  // CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT, then publish every row
  // visible in that snapshot: exactly what the slot will not stream.
  Status CreateSlotWithInitialCopy() {
    const std::string start_id = TraceInstance(opts_) + ".start";
    Trace* tr = StartTrace(start_id);
    std::string snapshot;
    Status s = stream_.CreateSlot(slot_.name(), &snapshot, tr, start_id);
    if (!s.ok()) return s;
    const uint64_t published_before = counters_.published;
    s = slot_.InitialCopy(pool_.get(), broker_.get(), snapshot, opts_.batch, &counters_.published);
    if (tr) {
      tr->Note(start_id, "initial copy (SET TRANSACTION SNAPSHOT, SELECT ... FROM outbox_table): " +
                             std::to_string(counters_.published - published_before) +
                             " rows published" + (s.ok() ? "" : ", failed: " + s.ToString()));
    }
    // A failed copy leaves the slot without its marker: the next start drops
    // and recreates it.
    return s;
  }

  // Drains what libpq can deliver without blocking, into backlog_, up to a batch.
  Status ReadAvailable() {
    Status s = stream_.Consume();
    if (!s.ok()) return s;
    while (static_cast<int>(backlog_.size()) < opts_.batch) {
      CdcStream::Frame frame;
      bool got = false;
      s = stream_.Read(&frame, &got);
      if (!s.ok()) return s;
      if (!got) break;
      backlog_.SawWalEnd(frame.wal_end);
      if (frame.xlogdata) {
        s = HandleChange(frame.change);
        if (!s.ok()) return s;
      }
    }
    return Status::OK();
  }

  // One pgoutput message (an XLogData's payload, or a row of a peek).
  Status HandleChange(std::string_view change) {
    if (!opts_.trace) return changes_.Apply(change, &backlog_, nullptr);
    Status s = changes_.Apply(change, &backlog_, &note_);
    if (!note_.empty()) TraceWal(note_);
    return s;
  }

  // Records a replication message on the current batch's trace (started on
  // the first message of a batch).
  void TraceWal(const std::string& what) {
    if (trace_id_.empty()) {
      std::string id = TraceInstance(opts_) + ".b" + std::to_string(trace_batches_ + 1);
      if (!opts_.trace->Begin(id)) return;
      trace_id_ = id;
      ++trace_batches_;
    }
    opts_.trace->Reply(trace_id_, "postgres", what);
  }

  // Hands the buffer to the worker; the next message read starts the next
  // batch (and its trace).
  void StartPublish() {
    std::vector<OutboxEvent> batch;
    backlog_.Take(&batch);
    in_flight_trace_ = std::move(trace_id_);
    trace_id_.clear();
    worker_->Start(std::move(batch), in_flight_trace_.empty() ? nullptr : opts_.trace,
                   in_flight_trace_);
  }

  Status FinishPublish(int64_t* moved) {
    std::vector<OutboxEvent> batch;
    Status s = worker_->Finish(&batch);
    Trace* tr = in_flight_trace_.empty() ? nullptr : opts_.trace;
    if (!s.ok()) {
      backlog_.Failed(std::move(batch));
      // Its trace goes on with the retry, which carries what was read meanwhile too.
      if (trace_id_.empty()) {
        trace_id_ = std::move(in_flight_trace_);
      } else if (tr) {
        tr->Note(in_flight_trace_, "publish failed: these events go again with batch " + trace_id_);
      }
      in_flight_trace_.clear();
      // Keep the stream alive while the broker is away (wal_sender_timeout).
      // A failure here ends the stream, which the next read reports.
      (void)MaybeSendFeedback();
      return s;
    }
    backlog_.Acked();
    *moved = static_cast<int64_t>(batch.size());
    counters_.published += batch.size();
    ++counters_.steps;
    if (tr) {
      tr->Send(in_flight_trace_, "postgres",
               "standby status update 'r': flushed " + pgoutput::FormatLsn(backlog_.confirmed()) +
                   " (the slot may release WAL up to here)");
    }
    in_flight_trace_.clear();
    // --cdc-read sql: the advance is a query that decodes WAL; the broker
    // need not wait for it.
    if (sql_mode() && !backlog_.empty()) StartPublish();
    s = MaybeSendFeedback(/*force=*/true);
    if (!s.ok()) return s;
    // Keep the broker busy: what was read meanwhile goes out at once.
    if (!backlog_.empty()) StartPublish();
    return Status::OK();
  }

  Status MaybeSendFeedback(bool force = false) {
    if (sql_mode()) {
      // Each advance decodes the WAL from the durable slot's restart_lsn
      // (cdc_sql_reader.h): once per chunk read (at the first ack after it
      // was taken), when everything read was acknowledged, or after
      // kFeedbackInterval.
      const bool idle =
          sql_.exhausted() && !sql_.pending() && !backlog_.in_flight() && backlog_.empty();
      if (!advance_due_ && !idle && Clock::now() - last_feedback_ < kFeedbackInterval) {
        return Status::OK();
      }
      return AdvanceSlot();
    }
    if (!stream_.open()) return Status::OK();
    if (!force && !stream_.reply_requested() && backlog_.confirmed() == reported_ &&
        Clock::now() - last_feedback_ < kFeedbackInterval) {
      return Status::OK();
    }
    return SendFeedback(false);
  }

  // The standby status update: the confirmed position to the server.
  Status SendFeedback(bool reply_requested) {
    if (!stream_.open()) return Status::OK();
    Status s = stream_.SendStatusUpdate(backlog_.confirmed(), reply_requested);
    if (!s.ok()) {
      CloseStream();
      return s;
    }
    reported_ = backlog_.confirmed();
    last_feedback_ = Clock::now();
    return Status::OK();
  }

  RelayOptions opts_;
  std::shared_ptr<PgPool> pool_;
  std::unique_ptr<Publisher> broker_;
  // After broker_: destroyed first, it may still be publishing through it.
  std::unique_ptr<PublishWorker> worker_;
  RelayCounters counters_;
  CdcSlot slot_;

  CdcStream stream_;
  bool streaming_ = false;
  CdcSqlReader sql_;          // --cdc-read sql
  bool advance_due_ = false;  // sql: a chunk was taken since the last advance
  CdcChanges changes_;
  CdcBacklog backlog_;
  uint64_t reported_ = 0;  // backlog_.confirmed() as last sent to the server
  Clock::time_point last_feedback_{};
  Clock::time_point last_watermark_{};
  Clock::time_point last_slot_check_{};
  CdcWatermark watermark_;
  uint64_t drain_target_ = 0;
  std::string note_;             // CdcChanges' description of a change, when traced
  std::string trace_id_;         // the batch being read and traced (RelayOptions::trace)
  std::string in_flight_trace_;  // the trace of the batch in flight
  uint64_t trace_batches_ = 0;
};

}  // namespace

std::unique_ptr<Relay> NewCdcRelay(const RelayOptions& opts) {
  return std::make_unique<CdcRelay>(opts);
}

}  // namespace dw::outbox
