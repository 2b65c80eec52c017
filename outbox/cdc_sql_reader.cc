#include "outbox/cdc_sql_reader.h"

#include "common/one_line.h"
#include "outbox/pg_util.h"
#include "outbox/pgoutput.h"

namespace dw::outbox {
namespace {

// Slot names are at most NAMEDATALEN - 1 bytes.
constexpr size_t kMaxSlotName = 63;

PGconn* Connect(const std::string& dsn, std::string* err) {
  PGconn* c = PQconnectdb(WithConnectTimeout(dsn).c_str());
  if (PQstatus(c) == CONNECTION_OK) return c;
  *err = OneLine(PQerrorMessage(c));
  PQfinish(c);
  return nullptr;
}

}  // namespace

Status CdcSqlReader::Open(const std::string& dsn, const std::string& slot,
                          const std::string& publication, int max_changes) {
  Close();
  std::string err;
  conn_ = Connect(dsn, &err);
  if (conn_) adv_ = Connect(dsn, &err);
  if (!adv_) {
    Close();
    return Status::Unavailable("cdc: sql read connection: " + err);
  }
  slot_ = slot;
  publication_ = publication;
  max_changes_ = max_changes;
  limit_ = std::to_string(max_changes);
  // Named after this session's backend: a copy left by a killed relay whose
  // session the server has not ended yet cannot collide with it.
  const std::string suffix = "_rd_" + std::to_string(PQbackendPID(conn_));
  copy_ = slot.substr(0, kMaxSlotName - suffix.size()) + suffix;
  const char* values[] = {slot_.c_str(), copy_.c_str()};
  PGresult* r = PQexecParams(conn_, "SELECT pg_copy_logical_replication_slot($1, $2, true)", 2,
                             nullptr, values, nullptr, nullptr, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    Status s = Failed(conn_, "copying slot " + slot_, r);
    Close();
    return s;
  }
  PQclear(r);
  return Status::OK();
}

void CdcSqlReader::Close() {
  ClearChunk();
  taken_ = false;
  pending_ = false;
  advancing_ = false;
  // Ending the session drops the temporary copy (a get still running there
  // ends at its next write to the closed socket).
  if (conn_) PQfinish(conn_);
  if (adv_) PQfinish(adv_);
  conn_ = adv_ = nullptr;
}

void CdcSqlReader::ClearChunk() {
  if (chunk_) PQclear(chunk_);
  chunk_ = nullptr;
  rows_ = row_ = 0;
  full_ = false;
}

Status CdcSqlReader::Failed(PGconn* c, const std::string& what, PGresult* r) {
  std::string err = OneLine(r ? PQresultErrorMessage(r) : PQerrorMessage(c));
  if (r) PQclear(r);
  if (err.empty()) err = OneLine(PQerrorMessage(c));
  // The connection may be gone: the relay's restart opens new ones.
  return Status::Unavailable("cdc: " + what + ": " + err);
}

Status CdcSqlReader::SendNext() {
  if (pending_) return Status::OK();
  // Read before the get starts decoding: everything committed up to here is
  // in its result if it returns fewer rows than it asked for.
  PGresult* r = PQexec(conn_, "SELECT pg_current_wal_flush_lsn()::text");
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    return Failed(conn_, "reading the WAL flush position", r);
  }
  uint64_t flush = 0;
  bool parsed = pgoutput::ParseLsn(PQgetvalue(r, 0, 0), &flush);
  PQclear(r);
  if (!parsed) return Status::Corruption("cdc: unreadable WAL flush position");
  const char* values[] = {copy_.c_str(), limit_.c_str(), publication_.c_str()};
  // Binary results: the bytea arrives as its bytes, not hex text to decode.
  if (!PQsendQueryParams(conn_,
                         "SELECT data FROM pg_logical_slot_get_binary_changes($1, NULL, $2::int,"
                         " 'proto_version', '1', 'publication_names', $3, 'messages', 'true')",
                         3, nullptr, values, nullptr, nullptr, /*resultFormat=*/1)) {
    return Failed(conn_, "reading slot copy " + copy_, nullptr);
  }
  pending_ = true;
  pending_flush_ = flush;
  return Status::OK();
}

bool CdcSqlReader::Ready() {
  if (!pending_) return true;
  // Keeps the socket drained while the relay publishes; a failure shows in
  // TakeChunk's result.
  if (!PQconsumeInput(conn_)) return true;
  return !PQisBusy(conn_);
}

Status CdcSqlReader::TakeChunk() {
  ClearChunk();
  if (!pending_) return Status::FailedPrecondition("cdc: no chunk read is in flight");
  pending_ = false;
  PGresult* r = PQgetResult(conn_);
  // The query's end (a NULL result) follows its one result.
  while (PGresult* extra = r ? PQgetResult(conn_) : nullptr) PQclear(extra);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) return Failed(conn_, "reading slot copy " + copy_, r);
  chunk_ = r;
  rows_ = PQntuples(r);
  full_ = rows_ >= max_changes_;
  taken_ = true;
  flush_lsn_ = pending_flush_;
  return Status::OK();
}

bool CdcSqlReader::Next(std::string_view* message) {
  if (row_ >= rows_) return false;
  *message = std::string_view(PQgetvalue(chunk_, row_, 0),
                              static_cast<size_t>(PQgetlength(chunk_, row_, 0)));
  ++row_;
  return true;
}

Status CdcSqlReader::Advance(uint64_t lsn, bool* sent) {
  *sent = false;
  bool done = false;
  Status s = AdvanceDone(/*wait=*/false, &done);
  if (!s.ok() || !done) return s;
  const std::string target = pgoutput::FormatLsn(lsn);
  const char* values[] = {slot_.c_str(), target.c_str()};
  // Postgres refuses a target below the slot's confirmed position.
  if (!PQsendQueryParams(
          adv_,
          "SELECT pg_replication_slot_advance($1, GREATEST($2::pg_lsn, (SELECT confirmed_flush_lsn"
          " FROM pg_replication_slots WHERE slot_name = $1)))",
          2, nullptr, values, nullptr, nullptr, 0)) {
    return Failed(adv_, "advancing slot " + slot_, nullptr);
  }
  advancing_ = true;
  *sent = true;
  return Status::OK();
}

Status CdcSqlReader::AdvanceDone(bool wait, bool* done) {
  *done = !advancing_;
  if (!advancing_) return Status::OK();
  if (!wait && PQconsumeInput(adv_) && PQisBusy(adv_)) return Status::OK();
  advancing_ = false;
  *done = true;
  PGresult* r = PQgetResult(adv_);
  while (PGresult* extra = r ? PQgetResult(adv_) : nullptr) PQclear(extra);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) return Failed(adv_, "advancing slot " + slot_, r);
  PQclear(r);
  return Status::OK();
}

}  // namespace dw::outbox
