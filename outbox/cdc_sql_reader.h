// CdcSqlReader: the cdc relay's second way to read its slot (`outbox relay
// --strategy cdc --cdc-read sql`), over plain connections instead of a WAL
// sender. Two connections:
//
//   reader   On start, pg_copy_logical_replication_slot(slot, copy, true):
//            a TEMPORARY copy of the relay's (durable) slot, at its
//            restart_lsn and confirmed position, owned by this session.
//            Chunks are read from the copy with
//            pg_logical_slot_get_binary_changes(copy, NULL, max_changes,
//            'proto_version', '1', 'publication_names', ..., 'messages',
//            'true'): the same pgoutput messages the stream carries, as the
//            rows of one result (binary, no hex), ending on a transaction's
//            boundary. A get consumes what it returned, so the copy's
//            confirmed position moves past it and the next get starts there.
//   advance  pg_replication_slot_advance(slot, lsn) on the DURABLE slot, once
//            the broker acknowledged everything up to that commit: the
//            stream's standby status update. Its own connection, since the
//            reader's is busy with the read ahead, and sent without waiting
//            for its result (it decodes WAL too).
//
// Why a copy: a peek of the durable slot starts at its confirmed position,
// which may pass a commit only after its ack, so the next chunk could only be
// read after the last one was published. A get on the durable slot itself
// would confirm events nobody published yet. The copy can be consumed as far
// as it is read, so the next chunk's query is sent as soon as this chunk's
// result is in hand (SendNext): the server decodes chunk n+1 while the relay
// publishes chunk n. One chunk ahead at most.
//
// A crash loses nothing: a temporary slot is dropped when its session ends
// (a SIGKILLed relay's connection closes), and the durable slot stands at
// the last acknowledged commit; a new relay makes a new copy from there and
// reads the unacknowledged events again (the broker dedupes them).
//
// Why it exists: a WAL sender sends every message (BEGIN, MESSAGE, COMMIT:
// three per one-event order) with a `send` of its own and looks for replies
// with a `recv` each time; the SQL functions return them as rows of one
// result, at a fraction of that CPU.
//
// What it still costs: a get decodes the WAL from the copy's restart_lsn,
// and an advance from the durable slot's, not from their confirmed
// positions. Consuming the copy does not change that: restart_lsn moves only
// at a running-xacts record (logged by the bgwriter every 15 s while the WAL
// grows, and at checkpoints), so each get re-reads (without output) the WAL
// since the last such record before its start, and each advance (once per
// chunk, fast-forward: no output plugin either) the durable slot's. On a
// backlog written in seconds that is most of what earlier gets read: small
// chunks cost quadratically, so the relay reads large ones
// (RelayOptions::cdc_sql_chunk_changes), and read-ahead pays only on a
// backlog of several. Smaller or growing chunks start publishing sooner,
// but on two shared cores the extra decoding cost more than the overlap
// gained (bench/README.md). An idle relay asks again only at its next poll,
// and a chunk that reached the WAL's end is not read ahead, so a relay that
// keeps up with live writers pays up to a running-xacts interval of WAL per
// poll: the stream stays the default.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace dw::outbox {

class CdcSqlReader {
 public:
  CdcSqlReader() = default;
  ~CdcSqlReader() { Close(); }
  CdcSqlReader(const CdcSqlReader&) = delete;
  CdcSqlReader& operator=(const CdcSqlReader&) = delete;

  // Connects both connections and makes the reader's copy of `slot`.
  Status Open(const std::string& dsn, const std::string& slot, const std::string& publication,
              int max_changes);
  // Closes both connections: the server drops the copy.
  void Close();
  bool open() const { return conn_ != nullptr; }
  const std::string& copy_name() const { return copy_; }

  // Sends the next chunk's query (after reading the WAL flush position); no-op
  // while one is in flight.
  Status SendNext();
  bool pending() const { return pending_; }
  // Reads what arrived for the query in flight without blocking; true when
  // its whole result is in (or the connection failed: TakeChunk reports it).
  bool Ready();
  // The reader's socket, to poll while Ready() is false.
  int socket() const { return conn_ ? PQsocket(conn_) : -1; }
  // Replaces the rows in hand with the result of the query in flight, waiting
  // for it if needed.
  Status TakeChunk();

  // The next row of the chunk in hand (a pgoutput message); false when none
  // is left.
  bool Next(std::string_view* message);
  bool exhausted() const { return row_ >= rows_; }
  // The chunk in hand held max_changes rows or more: more may follow at once.
  bool full() const { return full_; }
  // The chunk in hand returned fewer rows than it asked for, so it decoded the
  // WAL up to its end: every change before flush_lsn() (the server's flush
  // position read just before its query was sent) is in hand.
  bool reached_end() const { return !full_ && taken_; }
  uint64_t flush_lsn() const { return flush_lsn_; }

  // Sends the query that moves the durable slot's confirmed position to
  // `lsn` (never backwards) without waiting for it: it decodes WAL, and the
  // relay goes on publishing meanwhile. *sent false: the previous advance is
  // still running (call again later).
  Status Advance(uint64_t lsn, bool* sent);
  // *done: no advance is running (its outcome returned); waits for it when
  // `wait`.
  Status AdvanceDone(bool wait, bool* done);

 private:
  Status Failed(PGconn* c, const std::string& what, PGresult* r);
  void ClearChunk();

  PGconn* conn_ = nullptr;  // the reader: the copy and its gets
  PGconn* adv_ = nullptr;   // the durable slot's advances
  std::string slot_, copy_, publication_, limit_;
  int max_changes_ = 0;
  PGresult* chunk_ = nullptr;
  int rows_ = 0;
  int row_ = 0;
  bool full_ = false;
  bool taken_ = false;  // a chunk was taken since Open
  uint64_t flush_lsn_ = 0;
  bool pending_ = false;
  uint64_t pending_flush_ = 0;
  bool advancing_ = false;  // an advance's query is in flight on adv_
};

}  // namespace dw::outbox
