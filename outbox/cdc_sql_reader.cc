#include "outbox/cdc_sql_reader.h"

#include "common/one_line.h"
#include "outbox/pg_util.h"
#include "outbox/pgoutput.h"

namespace dw::outbox {

Status CdcSqlReader::Open(const std::string& dsn) {
  Close();
  conn_ = PQconnectdb(WithConnectTimeout(dsn).c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string err = OneLine(PQerrorMessage(conn_));
    Close();
    return Status::Unavailable("cdc: sql read connection: " + err);
  }
  return Status::OK();
}

void CdcSqlReader::Close() {
  if (chunk_) PQclear(chunk_);
  chunk_ = nullptr;
  rows_ = row_ = 0;
  reached_end_ = false;
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

Status CdcSqlReader::Failed(const std::string& what, PGresult* r) {
  std::string err = OneLine(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
  if (r) PQclear(r);
  if (err.empty()) err = OneLine(PQerrorMessage(conn_));
  // The connection may be gone: the relay's restart opens a new one.
  return Status::Unavailable("cdc: " + what + ": " + err);
}

Status CdcSqlReader::Peek(const std::string& slot, const std::string& publication,
                          int max_changes) {
  if (chunk_) PQclear(chunk_);
  chunk_ = nullptr;
  rows_ = row_ = 0;
  reached_end_ = false;
  PGresult* r = PQexec(conn_, "SELECT pg_current_wal_flush_lsn()::text");
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    return Failed("reading the WAL flush position", r);
  }
  uint64_t flush = 0;
  bool parsed = pgoutput::ParseLsn(PQgetvalue(r, 0, 0), &flush);
  PQclear(r);
  if (!parsed) return Status::Corruption("cdc: unreadable WAL flush position");
  const std::string limit = std::to_string(max_changes);
  const char* values[] = {slot.c_str(), limit.c_str(), publication.c_str()};
  // Binary results: the bytea arrives as its bytes, not hex text to decode.
  r = PQexecParams(conn_,
                   "SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, $2::int,"
                   " 'proto_version', '1', 'publication_names', $3, 'messages', 'true')",
                   3, nullptr, values, nullptr, nullptr, /*resultFormat=*/1);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) return Failed("peeking slot " + slot, r);
  chunk_ = r;
  rows_ = PQntuples(r);
  reached_end_ = rows_ < max_changes;
  flush_lsn_ = flush;
  return Status::OK();
}

bool CdcSqlReader::Next(std::string_view* message) {
  if (row_ >= rows_) return false;
  *message = std::string_view(PQgetvalue(chunk_, row_, 0),
                              static_cast<size_t>(PQgetlength(chunk_, row_, 0)));
  ++row_;
  return true;
}

Status CdcSqlReader::Advance(const std::string& slot, uint64_t lsn) {
  const std::string target = pgoutput::FormatLsn(lsn);
  const char* values[] = {slot.c_str(), target.c_str()};
  // Postgres refuses a target below the slot's confirmed position.
  PGresult* r = PQexecParams(
      conn_,
      "SELECT pg_replication_slot_advance($1, GREATEST($2::pg_lsn, (SELECT confirmed_flush_lsn"
      " FROM pg_replication_slots WHERE slot_name = $1)))",
      2, nullptr, values, nullptr, nullptr, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) return Failed("advancing slot " + slot, r);
  PQclear(r);
  return Status::OK();
}

}  // namespace dw::outbox
