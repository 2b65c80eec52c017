// CdcSqlReader: the cdc relay's second way to read its slot (`outbox relay
// --strategy cdc --cdc-read sql`), over a plain connection instead of a WAL
// sender:
//
//   Peek     SELECT data FROM pg_logical_slot_peek_binary_changes(slot, NULL,
//            max_changes, 'proto_version', '1', 'publication_names', ...,
//            'messages', 'true'): the same pgoutput messages the stream
//            carries, as the rows of one result (binary, no hex), starting
//            after the slot's confirmed position. A peek moves nothing.
//   Advance  pg_replication_slot_advance(slot, lsn), once the broker
//            acknowledged everything up to that commit: the stream's
//            standby status update. A relay killed before it reads the same
//            changes again (the broker dedupes them).
//
// Why it exists: a WAL sender sends every message (BEGIN, MESSAGE, COMMIT:
// three per one-event order) with a `send` of its own and looks for replies
// with a `recv` each time; the SQL functions return them as rows of one
// result, at a fraction of that CPU.
//
// What it costs: both functions decode the WAL from the slot's restart_lsn,
// not from its confirmed position, and restart_lsn only moves at a
// running-xacts record (logged by the bgwriter every 15 s while the WAL grows,
// and at checkpoints). So every peek and every advance re-reads the WAL since
// then: the relay peeks large chunks (RelayOptions::cdc_sql_chunk_changes,
// 300,000 rows: about 100,000 one-event transactions, some 30 MB of result)
// and advances once per chunk, not per batch. And the next chunk can only be
// peeked once the slot was advanced past the last one, i.e. after its last
// ack: the server's decoding of chunk n+1 does not overlap chunk n's publish.
// A relay that keeps up with live writers therefore pays, per peek, for up
// to a running-xacts interval of WAL: the stream stays the default.
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

  Status Open(const std::string& dsn);
  void Close();
  bool open() const { return conn_ != nullptr; }

  // Replaces the rows in hand with the next chunk of `slot` (at most
  // max_changes rows; a peek ends on a transaction's boundary).
  Status Peek(const std::string& slot, const std::string& publication, int max_changes);
  // The next row of the chunk (a pgoutput message); false when none is left.
  bool Next(std::string_view* message);
  bool exhausted() const { return row_ >= rows_; }
  // The last peek returned fewer rows than it asked for, so it decoded the
  // WAL up to its end: every change before flush_lsn() (the server's flush
  // position read just before it) is in hand.
  bool reached_end() const { return reached_end_; }
  uint64_t flush_lsn() const { return flush_lsn_; }

  // Moves the slot's confirmed position to `lsn` (never backwards).
  Status Advance(const std::string& slot, uint64_t lsn);

 private:
  Status Failed(const std::string& what, PGresult* r);

  PGconn* conn_ = nullptr;
  PGresult* chunk_ = nullptr;
  int rows_ = 0;
  int row_ = 0;
  bool reached_end_ = false;
  uint64_t flush_lsn_ = 0;
};

}  // namespace dw::outbox
