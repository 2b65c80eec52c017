#include "outbox/relay_cdc.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <thread>

#include <pqxx/pqxx>

#include "common/crc32c.h"
#include "common/one_line.h"
#include "outbox/cdc_backlog.h"
#include "outbox/cdc_sql_reader.h"
#include "outbox/emit_message.h"
#include "outbox/event.h"
#include "outbox/pg_util.h"
#include "outbox/pgoutput.h"
#include "outbox/polling_relay.h"
#include "outbox/publish_worker.h"
#include "outbox/publisher.h"
#include "participants/pg_pool.h"

namespace dw::outbox {
namespace {

using Clock = std::chrono::steady_clock;
using pgoutput::Message;

// Postgres epoch (2000-01-01) in Unix µs: the standby status update's clock.
constexpr int64_t kPgEpochUnixUs = 946684800LL * 1000000;
// The columns the publication carries (what Handle reads from an insert).
// A publication made before it had no list and carries every column: the
// relay reads the same columns by name from either.
constexpr char kCdcColumns[] = "id, event_id, topic, msg_key, payload";
// wal_sender_timeout defaults to 60 s: report well within it.
constexpr auto kFeedbackInterval = std::chrono::seconds(10);
constexpr auto kWatermarkInterval = std::chrono::seconds(2);
constexpr auto kSlotCheckInterval = std::chrono::seconds(10);
constexpr size_t kMaxWatermarkSamples = 64;
// How long Step waits at most for the stream or the batch in flight before
// looking at the feedback clock again.
constexpr int kInFlightPollMs = 1000;

std::string WithReplication(const std::string& dsn) {
  if (dsn.starts_with("postgresql://") || dsn.starts_with("postgres://")) {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "replication=database";
  }
  return dsn + " replication=database";
}

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
        s = ReadAvailable();
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
      pollfd p[2] = {{worker_->fd(), POLLIN, 0}, {PQsocket(stream_), POLLIN, 0}};
      const bool room = static_cast<int>(backlog_.size()) < opts_.batch;
      if (sql_mode()) {
        if (room && !sql_.exhausted()) continue;  // decode more of the chunk meanwhile
        poll(p, 1, kInFlightPollMs);
        continue;
      }
      poll(p, room ? 2 : 1, kInFlightPollMs);
    }
  }

  bool WaitForWork(std::chrono::milliseconds max_wait) override {
    if (backlog_.in_flight()) return true;  // Step waits for it
    if (sql_mode() && !sql_.exhausted()) return true;
    if (!stream_) {  // also --cdc-read sql: the next peek is the next Step's
      std::this_thread::sleep_for(max_wait);
      return false;
    }
    pollfd p{PQsocket(stream_), POLLIN, 0};
    return poll(&p, 1, static_cast<int>(max_wait.count())) > 0;
  }

  Status Housekeeping(std::string* warning) override {
    if (!streaming_) return Status::OK();
    auto now = Clock::now();
    try {
      if (now - last_watermark_ >= kWatermarkInterval) {
        last_watermark_ = now;
        Status s = AdvanceWatermark();
        if (!s.ok()) return s;
      }
      if (now - last_slot_check_ >= kSlotCheckInterval) {
        last_slot_check_ = now;
        PgPool::Lease lease;
        Status s = pool_->Acquire(&lease);
        if (!s.ok()) return s;
        try {
          pqxx::nontransaction tx{lease.conn()};
          auto r = tx.exec_params(
              "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint"
              " FROM pg_replication_slots WHERE slot_name = $1",
              slot_);
          if (!r.empty() && !r[0][0].is_null()) {
            int64_t retained = r[0][0].as<int64_t>();
            if (retained > opts_.slot_warn_bytes) {
              *warning = "replication slot " + slot_ + " retains " +
                         std::to_string(retained >> 20) + " MiB of WAL (warning threshold " +
                         std::to_string(opts_.slot_warn_bytes >> 20) + " MiB)";
            }
          }
        } catch (...) {
          return StatusFromPgException(&lease, "cdc: slot check");
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
               !backlog_.in_txn() && (!sql_mode() || sql_.exhausted());
    if (!*drained) {
      // Ask the server to report how far it has read (a keepalive).
      return SendFeedback(/*reply_requested=*/true);
    }
    return Status::OK();
  }

 private:
  struct Sample {
    std::string xmin;
    uint64_t lsn;
  };

  // Connects, makes sure publication, slot and initial copy exist, and
  // starts streaming. No-op while streaming.
  Status EnsureStreaming() {
    if (streaming_) return Status::OK();
    CloseStream();
    Status s = PrepareCatalog();
    if (!s.ok()) return s;
    stream_ = PQconnectdb(WithConnectTimeout(WithReplication(opts_.dsn)).c_str());
    if (PQstatus(stream_) != CONNECTION_OK) {
      std::string err = OneLine(PQerrorMessage(stream_));
      CloseStream();
      return Status::Unavailable("cdc: replication connection: " + err);
    }
    bool snapshot_done = false;
    s = SlotState(&snapshot_done);
    if (!s.ok()) return Fail(s);
    if (!snapshot_done) {
      s = CreateSlotWithInitialCopy();
      if (!s.ok()) return Fail(s);
    }
    if (sql_mode()) return StartSqlReads();
    std::string cmd = "START_REPLICATION SLOT \"" + slot_ +
                      "\" LOGICAL 0/0 (proto_version '1', publication_names '" + opts_.publication +
                      "', messages 'true')";
    const std::string start_id = TraceInstance(opts_) + ".start";
    Trace* tr = opts_.trace && (opts_.trace->Traced(start_id) || opts_.trace->Begin(start_id))
                    ? opts_.trace
                    : nullptr;
    if (tr) tr->Send(start_id, "postgres", cmd);
    PGresult* r = PQexec(stream_, cmd.c_str());
    bool ok = PQresultStatus(r) == PGRES_COPY_BOTH;
    std::string err = OneLine(PQresultErrorMessage(r));
    PQclear(r);
    if (tr) tr->Reply(start_id, "postgres", ok ? "COPY BOTH: streaming from the slot" : err);
    if (!ok) return Fail(Status::Unavailable("cdc: START_REPLICATION: " + err));
    streaming_ = true;
    decoder_ = pgoutput::Decoder();
    backlog_.Restart();
    last_feedback_ = Clock::now();
    return Status::OK();
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
    if (stream_) PQfinish(stream_);
    stream_ = nullptr;
    sql_.Close();
    streaming_ = false;
  }

  bool sql_mode() const { return opts_.cdc_read == RelayOptions::CdcRead::kSql; }

  // --cdc-read sql (cdc_sql_reader.h): the replication connection was only
  // needed to make the slot; the reads go over a plain connection.
  Status StartSqlReads() {
    PQfinish(stream_);
    stream_ = nullptr;
    Status s = sql_.Open(opts_.dsn);
    if (!s.ok()) return Fail(s);
    const std::string start_id = TraceInstance(opts_) + ".start";
    if (opts_.trace && (opts_.trace->Traced(start_id) || opts_.trace->Begin(start_id))) {
      opts_.trace->Note(start_id,
                        "reading slot " + slot_ +
                            " with pg_logical_slot_peek_binary_changes, chunks of up to " +
                            std::to_string(opts_.cdc_sql_chunk_changes) + " changes");
    }
    streaming_ = true;
    decoder_ = pgoutput::Decoder();
    backlog_.Restart();
    last_feedback_ = Clock::now();
    return Status::OK();
  }

  // ReadAvailable for --cdc-read sql: the rows of the chunk in hand, up to a
  // batch; the next chunk only once everything read was acknowledged and
  // the slot advanced past it (a peek starts at the slot's confirmed
  // position, so one made earlier would return the unacknowledged rows
  // again).
  Status ReadSql() {
    if (sql_.exhausted()) {
      if (backlog_.in_flight() || !backlog_.empty() || backlog_.in_txn()) return Status::OK();
      Status s = AdvanceSlot();
      if (!s.ok()) return s;
      s = sql_.Peek(slot_, opts_.publication, opts_.cdc_sql_chunk_changes);
      if (!s.ok()) return s;
    }
    // A batch ends on a commit (a chunk holds whole transactions), so its ack
    // confirms all of it: the next peek must not start inside it.
    std::string_view m;
    while ((static_cast<int>(backlog_.size()) < opts_.batch || backlog_.in_txn()) &&
           sql_.Next(&m)) {
      Status s = HandleChange(m);
      if (!s.ok()) return s;
    }
    // All of the WAL up to the flush position read before the peek is in
    // hand: the server's WAL end, as a keepalive reports it.
    if (sql_.exhausted() && sql_.reached_end()) backlog_.SawWalEnd(sql_.flush_lsn());
    return Status::OK();
  }

  // The standby status update of --cdc-read sql.
  Status AdvanceSlot() {
    if (backlog_.confirmed() <= reported_) return Status::OK();
    Status s = sql_.Advance(slot_, backlog_.confirmed());
    if (!s.ok()) return s;
    reported_ = backlog_.confirmed();
    last_feedback_ = Clock::now();
    return Status::OK();
  }

  // Publication, slot name, counter rows.
  Status PrepareCatalog() {
    PgPool::Lease lease;
    Status s = pool_->Acquire(&lease);
    if (!s.ok()) return s;
    try {
      pqxx::work tx{lease.conn()};
      tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(0x64770004) + ")");
      if (slot_.empty()) {
        slot_ = opts_.slot.empty()
                    ? DefaultSlotName(tx.exec1("SELECT current_database()")[0].as<std::string>())
                    : opts_.slot;
        // counter_key is the seed's varchar(50): a slot name may not fit.
        char hex[16];
        std::snprintf(hex, sizeof hex, "%08x", crc32c::Value(slot_));
        snapshot_key_ = std::string("cdc-snapshot:") + hex;
      }
      if (tx.exec_params("SELECT 1 FROM pg_publication WHERE pubname = $1", opts_.publication)
              .empty()) {
        // A column list (Postgres 15): only what the relay publishes. The
        // WAL sender formats every published column of every insert with
        // its output function, on one process that must keep up with all
        // writers (created_dttm's timestamptz is the costly one).
        tx.exec0("CREATE PUBLICATION " + tx.quote_name(opts_.publication) +
                 " FOR TABLE outbox_table (" + kCdcColumns +
                 ") WITH (publish = 'insert', publish_via_partition_root = true)");
      }
      tx.exec_params(
          "INSERT INTO outbox_counter (counter_key, counter_value) VALUES ($1, 0)"
          " ON CONFLICT (counter_key) DO NOTHING",
          CounterKey(opts_));
      tx.commit();
    } catch (...) {
      return StatusFromPgException(&lease, "cdc: publication");
    }
    return Status::OK();
  }

  // *usable: the slot exists and its initial copy finished. A slot without
  // a finished copy is dropped (it is recreated with a fresh snapshot).
  Status SlotState(bool* usable) {
    PgPool::Lease lease;
    Status s = pool_->Acquire(&lease);
    if (!s.ok()) return s;
    try {
      pqxx::work tx{lease.conn()};
      bool exists =
          !tx.exec_params("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", slot_).empty();
      bool copied =
          !tx.exec_params("SELECT 1 FROM outbox_counter WHERE counter_key = $1", snapshot_key_)
               .empty();
      if (exists && !copied) tx.exec_params("SELECT pg_drop_replication_slot($1)", slot_);
      if (!exists && copied) {
        // The slot vanished (dropped by hand): a new one needs a new copy.
        tx.exec_params("DELETE FROM outbox_counter WHERE counter_key = $1", snapshot_key_);
      }
      tx.commit();
      *usable = exists && copied;
    } catch (...) {
      return StatusFromPgException(&lease, "cdc: slot " + slot_);
    }
    return Status::OK();
  }

  // CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT, then publish every row
  // visible in that snapshot: exactly what the slot will not stream.
  Status CreateSlotWithInitialCopy() {
    std::string cmd = "CREATE_REPLICATION_SLOT \"" + slot_ + "\" LOGICAL pgoutput EXPORT_SNAPSHOT";
    const std::string start_id = TraceInstance(opts_) + ".start";
    Trace* tr = opts_.trace && (opts_.trace->Traced(start_id) || opts_.trace->Begin(start_id))
                    ? opts_.trace
                    : nullptr;
    if (tr) tr->Send(start_id, "postgres", cmd);
    PGresult* r = PQexec(stream_, cmd.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
      std::string err = OneLine(PQresultErrorMessage(r));
      PQclear(r);
      return Status::Unavailable("cdc: creating slot " + slot_ + ": " + err);
    }
    std::string snapshot = PQgetvalue(r, 0, 2);
    PQclear(r);
    if (tr) tr->Reply(start_id, "postgres", "slot created, snapshot " + snapshot);
    const uint64_t published_before = counters_.published;
    PgPool::Lease lease;
    Status s = pool_->Acquire(&lease);
    if (!s.ok()) return s;
    try {
      pqxx::work tx{lease.conn()};
      tx.exec0("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      tx.exec0("SET TRANSACTION SNAPSHOT " + tx.quote(snapshot));
      int64_t last = -1;
      for (;;) {
        auto rows = tx.exec_params(
            "SELECT id, topic, event_id, msg_key, payload FROM outbox_table"
            " WHERE id > $1 ORDER BY id LIMIT $2",
            last, opts_.batch);
        if (rows.empty()) break;
        std::vector<OutboxEvent> events;
        for (const auto& row : rows) {
          events.push_back({row[0].as<int64_t>(), row[1].as<std::string>(),
                            row[2].as<std::string>(), row[3].as<std::string>(),
                            row[4].as<std::string>()});
        }
        s = broker_->Publish(events);
        if (!s.ok()) break;
        counters_.published += events.size();
        last = events.back().id;
      }
      if (s.ok()) {
        tx.exec_params(
            "INSERT INTO outbox_counter (counter_key, counter_value) VALUES ($1, 1)"
            " ON CONFLICT (counter_key) DO UPDATE SET counter_value = 1, update_dttm = now()",
            snapshot_key_);
        tx.commit();
      }
    } catch (...) {
      s = StatusFromPgException(&lease, "cdc: initial copy");
    }
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
    if (sql_mode()) return ReadSql();
    if (!PQconsumeInput(stream_)) {
      return Status::Unavailable("cdc: replication stream: " + OneLine(PQerrorMessage(stream_)));
    }
    while (static_cast<int>(backlog_.size()) < opts_.batch) {
      char* buf = nullptr;
      int n = PQgetCopyData(stream_, &buf, /*async=*/1);
      if (n == 0) break;
      if (n == -1) {
        PGresult* r = PQgetResult(stream_);
        std::string err = OneLine(PQresultErrorMessage(r));
        PQclear(r);
        return Status::Unavailable("cdc: the server ended the replication stream: " + err);
      }
      if (n < 0) {
        return Status::Unavailable("cdc: replication stream: " + OneLine(PQerrorMessage(stream_)));
      }
      Status s = Handle(std::string_view(buf, n));
      PQfreemem(buf);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  Status Handle(std::string_view m) {
    if (m.empty()) return Status::OK();
    if (m[0] == 'k') {  // keepalive: walEnd, sendTime, replyRequested
      if (m.size() < 18) return Status::Corruption("cdc: short keepalive");
      backlog_.SawWalEnd(pgoutput::ReadU64(m.data() + 1));
      if (m[17]) reply_requested_ = true;
      return Status::OK();
    }
    if (m[0] != 'w') return Status::OK();
    if (m.size() < 25) return Status::Corruption("cdc: short XLogData");
    backlog_.SawWalEnd(pgoutput::ReadU64(m.data() + 9));
    return HandleChange(m.substr(25));
  }

  // One pgoutput message (an XLogData's payload, or a row of a peek).
  Status HandleChange(std::string_view change) {
    Message msg;
    Status s = decoder_.Decode(change, &msg);
    if (!s.ok()) return s;
    switch (msg.kind) {
      case Message::Kind::kBegin:
        backlog_.Begin();
        if (opts_.trace) TraceWal("XLogData: BEGIN xid " + std::to_string(msg.xid));
        break;
      case Message::Kind::kCommit:
        backlog_.Commit(msg.end_lsn);
        if (opts_.trace) TraceWal("XLogData: COMMIT, end LSN " + pgoutput::FormatLsn(msg.end_lsn));
        break;
      case Message::Kind::kRelation:
        if (msg.relation->relname == "outbox_table") {
          const auto* rel = msg.relation;
          cols_ = {rel->ColumnIndex("id"), rel->ColumnIndex("topic"), rel->ColumnIndex("event_id"),
                   rel->ColumnIndex("msg_key"), rel->ColumnIndex("payload")};
          outbox_oid_ = rel->oid;
          if (std::find(cols_.begin(), cols_.end(), -1) != cols_.end()) {
            return Status::FailedPrecondition("cdc: outbox_table lacks a column the relay needs");
          }
        }
        break;
      case Message::Kind::kInsert: {
        if (msg.relation->oid != outbox_oid_) break;
        auto get = [&](int i) -> std::string {
          const auto& v = msg.values[static_cast<size_t>(cols_[i])];
          return v ? *v : std::string();
        };
        if (static_cast<int>(msg.values.size()) <= *std::max_element(cols_.begin(), cols_.end())) {
          return Status::Corruption("cdc: insert with too few columns");
        }
        OutboxEvent e;
        e.id = std::stoll(get(0));
        e.topic = get(1);
        e.event_id = get(2);
        e.key = get(3);
        e.payload = get(4);
        if (opts_.trace) {
          TraceWal("XLogData: INSERT outbox_table id " + std::to_string(e.id) + " (" + e.event_id +
                   ")");
        }
        backlog_.Insert(std::move(e));
        break;
      }
      case Message::Kind::kLogicalMessage: {  // `outbox write --emit-message` (emit_message.h)
        if (!msg.transactional || msg.prefix != kEmitPrefix) break;
        OutboxEvent e;
        s = DecodeEmitMessage(msg.content, msg.message_lsn, &e);
        if (!s.ok()) return s;
        if (opts_.trace) TraceWal("XLogData: MESSAGE " + msg.prefix + " (" + e.event_id + ")");
        backlog_.Insert(std::move(e));
        break;
      }
      case Message::Kind::kOther:
        break;
    }
    return Status::OK();
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
    s = MaybeSendFeedback(/*force=*/true);
    if (!s.ok()) return s;
    // Keep the broker busy: what was read meanwhile goes out at once.
    if (!backlog_.empty()) StartPublish();
    return Status::OK();
  }

  Status MaybeSendFeedback(bool force = false) {
    if (sql_mode()) {
      // Each advance decodes the WAL from the slot's restart_lsn
      // (cdc_sql_reader.h): once per chunk, when all of it was acknowledged,
      // or after kFeedbackInterval inside a long one.
      const bool chunk_done = sql_.exhausted() && !backlog_.in_flight() && backlog_.empty();
      if (!chunk_done && Clock::now() - last_feedback_ < kFeedbackInterval) return Status::OK();
      return AdvanceSlot();
    }
    if (!stream_) return Status::OK();
    if (!force && !reply_requested_ && backlog_.confirmed() == reported_ &&
        Clock::now() - last_feedback_ < kFeedbackInterval) {
      return Status::OK();
    }
    return SendFeedback(false);
  }

  // 'r': write, flush, apply LSN, send time, reply requested.
  Status SendFeedback(bool reply_requested) {
    if (!stream_) return Status::OK();
    std::string m;
    m.push_back('r');
    pgoutput::PutU64(&m, backlog_.confirmed());
    pgoutput::PutU64(&m, backlog_.confirmed());
    pgoutput::PutU64(&m, backlog_.confirmed());
    auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    pgoutput::PutU64(&m, static_cast<uint64_t>(now_us - kPgEpochUnixUs));
    m.push_back(reply_requested ? 1 : 0);
    if (PQputCopyData(stream_, m.data(), static_cast<int>(m.size())) != 1 ||
        PQflush(stream_) != 0) {
      Status s = Status::Unavailable("cdc: sending feedback: " + OneLine(PQerrorMessage(stream_)));
      CloseStream();
      return s;
    }
    reported_ = backlog_.confirmed();
    reply_requested_ = false;
    last_feedback_ = Clock::now();
    return Status::OK();
  }

  // See relay_cdc.h, "Watermark".
  Status AdvanceWatermark() {
    PgPool::Lease lease;
    Status s = pool_->Acquire(&lease);
    if (!s.ok()) return s;
    try {
      pqxx::work tx{lease.conn()};
      std::string best;
      while (!samples_.empty() && samples_.front().lsn <= reported_) {
        best = samples_.front().xmin;
        samples_.pop_front();
      }
      if (!best.empty()) {
        tx.exec_params(
            "UPDATE outbox_counter SET counter_xid = $2::xid8, update_dttm = now()"
            " WHERE counter_key = $1",
            CounterKey(opts_), best);
      }
      if (samples_.size() < kMaxWatermarkSamples) {
        auto r = tx.exec1(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, pg_current_wal_lsn()::text");
        Sample smp;
        smp.xmin = r[0].as<std::string>();
        if (pgoutput::ParseLsn(r[1].as<std::string>(), &smp.lsn)) samples_.push_back(smp);
      }
      tx.commit();
    } catch (...) {
      return StatusFromPgException(&lease, "cdc: watermark");
    }
    return Status::OK();
  }

  RelayOptions opts_;
  std::shared_ptr<PgPool> pool_;
  std::unique_ptr<Publisher> broker_;
  // After broker_: destroyed first, it may still be publishing through it.
  std::unique_ptr<PublishWorker> worker_;
  RelayCounters counters_;
  std::string slot_;
  std::string snapshot_key_;

  PGconn* stream_ = nullptr;
  bool streaming_ = false;
  CdcSqlReader sql_;  // --cdc-read sql
  pgoutput::Decoder decoder_;
  uint32_t outbox_oid_ = 0;
  std::vector<int> cols_;  // id, topic, event_id, msg_key, payload
  CdcBacklog backlog_;
  uint64_t reported_ = 0;  // backlog_.confirmed() as last sent to the server
  bool reply_requested_ = false;
  Clock::time_point last_feedback_{};
  Clock::time_point last_watermark_{};
  Clock::time_point last_slot_check_{};
  std::deque<Sample> samples_;
  uint64_t drain_target_ = 0;
  std::string trace_id_;         // the batch being read and traced (RelayOptions::trace)
  std::string in_flight_trace_;  // the trace of the batch in flight
  uint64_t trace_batches_ = 0;
};

}  // namespace

std::string DefaultSlotName(const std::string& database) {
  std::string s = "dw_outbox_";
  for (char c : database) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    s.push_back(ok ? c : '_');
  }
  if (s.size() > 63) s.resize(63);
  return s;
}

std::unique_ptr<Relay> NewCdcRelay(const RelayOptions& opts) {
  return std::make_unique<CdcRelay>(opts);
}

}  // namespace dw::outbox
