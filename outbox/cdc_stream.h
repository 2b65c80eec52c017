// CdcStream: the cdc relay's replication connection (libpq, a
// `replication=database` connection speaking the streaming replication
// protocol), apart from what the relay does with the changes:
//
//   CreateSlot  CREATE_REPLICATION_SLOT ... LOGICAL pgoutput EXPORT_SNAPSHOT:
//               the exported snapshot stays usable only while this
//               connection runs no other command, so the initial copy
//               (cdc_slot.h) runs before Start.
//   Start       START_REPLICATION SLOT ... LOGICAL 0/0 (proto_version '1',
//               publication_names, messages 'true'), from the slot's
//               confirmed position; the connection is in COPY BOTH after.
//   Consume, Read  what arrived on the socket, then the CopyData libpq has
//               in hand, one at a time and without blocking, framing
//               removed: an XLogData's pgoutput message with the WAL end the
//               server reported, or a keepalive's WAL end (and its request
//               for a reply, kept until the next status update).
//   SendStatusUpdate  'r': write, flush and apply LSN all set to the
//               confirmed position, so the slot may release WAL up to it.
//
// socket() is the connection's fd, to poll for more of the stream. Every
// failure is Unavailable: the relay closes the stream and starts again from
// the slot's confirmed position.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/trace.h"

namespace dw::outbox {

class CdcStream {
 public:
  CdcStream() = default;
  ~CdcStream() { Close(); }
  CdcStream(const CdcStream&) = delete;
  CdcStream& operator=(const CdcStream&) = delete;

  Status Connect(const std::string& dsn);
  void Close();
  bool open() const { return conn_ != nullptr; }
  int socket() const { return PQsocket(conn_); }

  // The commands are traced as sends to "postgres" under `trace_id` when
  // `tr` is non-null. *snapshot: the name SET TRANSACTION SNAPSHOT takes.
  Status CreateSlot(const std::string& slot, std::string* snapshot, Trace* tr,
                    const std::string& trace_id);
  Status Start(const std::string& slot, const std::string& publication, Trace* tr,
               const std::string& trace_id);

  struct Frame {
    bool xlogdata = false;    // false: a keepalive
    uint64_t wal_end = 0;     // the server's WAL end as it reported it
    std::string_view change;  // XLogData: its pgoutput message, valid until the next Read
  };
  // Takes in what the socket has (PQconsumeInput), without blocking.
  Status Consume();
  // The next message libpq has in hand; *got false when it has none
  // complete. Keepalives are frames too; other messages are skipped.
  Status Read(Frame* frame, bool* got);
  // The server asked for a status update (a keepalive's flag).
  bool reply_requested() const { return reply_requested_; }

  Status SendStatusUpdate(uint64_t confirmed, bool reply_requested);

 private:
  void FreeBuffer();

  PGconn* conn_ = nullptr;
  char* buf_ = nullptr;  // the last CopyData read (Frame::change points into it)
  bool reply_requested_ = false;
};

}  // namespace dw::outbox
