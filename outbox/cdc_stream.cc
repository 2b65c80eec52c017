#include "outbox/cdc_stream.h"

#include <chrono>

#include "common/one_line.h"
#include "outbox/pg_util.h"
#include "outbox/pgoutput.h"

namespace dw::outbox {
namespace {

// Postgres epoch (2000-01-01) in Unix µs: the standby status update's clock.
constexpr int64_t kPgEpochUnixUs = 946684800LL * 1000000;

std::string WithReplication(const std::string& dsn) {
  if (dsn.starts_with("postgresql://") || dsn.starts_with("postgres://")) {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "replication=database";
  }
  return dsn + " replication=database";
}

}  // namespace

Status CdcStream::Connect(const std::string& dsn) {
  Close();
  conn_ = PQconnectdb(WithConnectTimeout(WithReplication(dsn)).c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string err = OneLine(PQerrorMessage(conn_));
    Close();
    return Status::Unavailable("cdc: replication connection: " + err);
  }
  return Status::OK();
}

void CdcStream::Close() {
  FreeBuffer();
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

void CdcStream::FreeBuffer() {
  if (buf_) PQfreemem(buf_);
  buf_ = nullptr;
}

Status CdcStream::CreateSlot(const std::string& slot, std::string* snapshot, Trace* tr,
                             const std::string& trace_id) {
  std::string cmd = "CREATE_REPLICATION_SLOT \"" + slot + "\" LOGICAL pgoutput EXPORT_SNAPSHOT";
  if (tr) tr->Send(trace_id, "postgres", cmd);
  PGresult* r = PQexec(conn_, cmd.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    std::string err = OneLine(PQresultErrorMessage(r));
    PQclear(r);
    return Status::Unavailable("cdc: creating slot " + slot + ": " + err);
  }
  *snapshot = PQgetvalue(r, 0, 2);
  PQclear(r);
  if (tr) tr->Reply(trace_id, "postgres", "slot created, snapshot " + *snapshot);
  return Status::OK();
}

Status CdcStream::Start(const std::string& slot, const std::string& publication, Trace* tr,
                        const std::string& trace_id) {
  std::string cmd = "START_REPLICATION SLOT \"" + slot +
                    "\" LOGICAL 0/0 (proto_version '1', publication_names '" + publication +
                    "', messages 'true')";
  if (tr) tr->Send(trace_id, "postgres", cmd);
  PGresult* r = PQexec(conn_, cmd.c_str());
  bool ok = PQresultStatus(r) == PGRES_COPY_BOTH;
  std::string err = OneLine(PQresultErrorMessage(r));
  PQclear(r);
  if (tr) tr->Reply(trace_id, "postgres", ok ? "COPY BOTH: streaming from the slot" : err);
  if (!ok) return Status::Unavailable("cdc: START_REPLICATION: " + err);
  return Status::OK();
}

Status CdcStream::Consume() {
  if (!PQconsumeInput(conn_)) {
    return Status::Unavailable("cdc: replication stream: " + OneLine(PQerrorMessage(conn_)));
  }
  return Status::OK();
}

Status CdcStream::Read(Frame* frame, bool* got) {
  *got = false;
  for (;;) {
    FreeBuffer();
    int n = PQgetCopyData(conn_, &buf_, /*async=*/1);
    if (n == 0) return Status::OK();
    if (n == -1) {
      PGresult* r = PQgetResult(conn_);
      std::string err = OneLine(PQresultErrorMessage(r));
      PQclear(r);
      return Status::Unavailable("cdc: the server ended the replication stream: " + err);
    }
    if (n < 0) {
      return Status::Unavailable("cdc: replication stream: " + OneLine(PQerrorMessage(conn_)));
    }
    std::string_view m(buf_, static_cast<size_t>(n));
    if (m.empty()) continue;
    if (m[0] == 'k') {  // keepalive: walEnd, sendTime, replyRequested
      if (m.size() < 18) return Status::Corruption("cdc: short keepalive");
      frame->xlogdata = false;
      frame->wal_end = pgoutput::ReadU64(m.data() + 1);
      frame->change = {};
      if (m[17]) reply_requested_ = true;
      *got = true;
      return Status::OK();
    }
    if (m[0] != 'w') continue;
    // XLogData: dataStart, walEnd, sendTime, then the pgoutput message.
    if (m.size() < 25) return Status::Corruption("cdc: short XLogData");
    frame->xlogdata = true;
    frame->wal_end = pgoutput::ReadU64(m.data() + 9);
    frame->change = m.substr(25);
    *got = true;
    return Status::OK();
  }
}

Status CdcStream::SendStatusUpdate(uint64_t confirmed, bool reply_requested) {
  // 'r': write, flush, apply LSN, send time, reply requested.
  std::string m;
  m.push_back('r');
  pgoutput::PutU64(&m, confirmed);
  pgoutput::PutU64(&m, confirmed);
  pgoutput::PutU64(&m, confirmed);
  auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  pgoutput::PutU64(&m, static_cast<uint64_t>(now_us - kPgEpochUnixUs));
  m.push_back(reply_requested ? 1 : 0);
  if (PQputCopyData(conn_, m.data(), static_cast<int>(m.size())) != 1 || PQflush(conn_) != 0) {
    return Status::Unavailable("cdc: sending feedback: " + OneLine(PQerrorMessage(conn_)));
  }
  reply_requested_ = false;
  return Status::OK();
}

}  // namespace dw::outbox
