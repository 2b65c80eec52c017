#include "env/scratch_database.h"

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "common/one_line.h"

namespace dw::env {
namespace {

using Conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

// `admin_dsn`, or with `dbname` the same server and credentials but that
// database: libpq expands only the first dbname as a connection string and
// takes a later one as a plain name, which works for both DSN forms.
Status Connect(const std::string& admin_dsn, const char* dbname, Conn* out) {
  const char* keys[] = {"dbname", dbname ? "dbname" : nullptr, nullptr};
  const char* vals[] = {admin_dsn.c_str(), dbname, nullptr};
  Conn c(PQconnectdbParams(keys, vals, /*expand_dbname=*/1), &PQfinish);
  if (!c || PQstatus(c.get()) != CONNECTION_OK) {
    return Status::Unavailable(std::string("connecting to Postgres") +
                               (dbname ? std::string(" (database ") + dbname + ")" : "") + ": " +
                               OneLine(c ? PQerrorMessage(c.get()) : "out of memory"));
  }
  *out = std::move(c);
  return Status::OK();
}

// One statement with text parameters; *rows (may be null) gets column 0 of
// every row ("" for NULL).
Status Exec(PGconn* c, const std::string& sql, const std::vector<std::string>& params,
            std::vector<std::string>* rows = nullptr) {
  std::vector<const char*> p;
  for (const auto& v : params) p.push_back(v.c_str());
  Result r(PQexecParams(c, sql.c_str(), static_cast<int>(p.size()), nullptr, p.data(), nullptr,
                        nullptr, 0),
           &PQclear);
  ExecStatusType st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return Status::IOError(sql + ": " +
                           OneLine(PQresultErrorMessage(r.get()), OneLineMode::kFirstLine));
  }
  if (rows) {
    rows->clear();
    for (int i = 0; i < PQntuples(r.get()); ++i) rows->emplace_back(PQgetvalue(r.get(), i, 0));
  }
  return Status::OK();
}

std::string Quoted(PGconn* c, const std::string& v, bool identifier) {
  char* q = identifier ? PQescapeIdentifier(c, v.c_str(), v.size())
                       : PQescapeLiteral(c, v.c_str(), v.size());
  std::string out = q ? q : "";
  PQfreemem(q);
  return out;
}

Status RollbackPrepared(const std::string& admin_dsn, PGconn* admin, const std::string& name) {
  std::vector<std::string> gids;
  Status s = Exec(admin, "SELECT gid FROM pg_prepared_xacts WHERE database = $1", {name}, &gids);
  if (!s.ok() || gids.empty()) return s;
  // ROLLBACK PREPARED must run in the database that owns the transaction.
  Conn d(nullptr, &PQfinish);
  s = Connect(admin_dsn, name.c_str(), &d);
  if (!s.ok()) return s;
  for (const auto& gid : gids) {
    // Another party may resolve it meanwhile: only what is left matters.
    (void)Exec(d.get(), "ROLLBACK PREPARED " + Quoted(d.get(), gid, false), {});
  }
  return Status::OK();
}

Status DropSlots(PGconn* admin, const std::string& name) {
  // A slot held by a WAL sender cannot be dropped: end the sender, and try
  // again until none is left (for about 5 s; DROP then says what remains).
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::vector<std::string> held, free;
    Status s = Exec(admin,
                    "SELECT active_pid::text FROM pg_replication_slots"
                    " WHERE database = $1 AND active_pid IS NOT NULL",
                    {name}, &held);
    if (s.ok()) {
      s = Exec(admin, "SELECT slot_name FROM pg_replication_slots WHERE database = $1", {name},
               &free);
    }
    if (!s.ok()) return s;
    if (free.empty()) return Status::OK();
    for (const auto& pid : held) (void)Exec(admin, "SELECT pg_terminate_backend($1::int)", {pid});
    // One that became active again meanwhile fails here: next round.
    for (const auto& slot : free) (void)Exec(admin, "SELECT pg_drop_replication_slot($1)", {slot});
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::OK();
}

Status Drop(const std::string& admin_dsn, PGconn* admin, const std::string& name) {
  std::vector<std::string> exists;
  Status s = Exec(admin, "SELECT 1 FROM pg_database WHERE datname = $1", {name}, &exists);
  if (!s.ok() || exists.empty()) return s;
  s = RollbackPrepared(admin_dsn, admin, name);
  if (s.ok()) s = DropSlots(admin, name);
  if (s.ok()) {
    s = Exec(admin, "DROP DATABASE IF EXISTS " + Quoted(admin, name, true) + " WITH (FORCE)", {});
  }
  return s;
}

}  // namespace

Status DropScratchDatabase(const std::string& admin_dsn, const std::string& name) {
  Conn admin(nullptr, &PQfinish);
  Status s = Connect(admin_dsn, nullptr, &admin);
  if (s.ok()) s = Drop(admin_dsn, admin.get(), name);
  if (!s.ok()) return Status::IOError("dropping database " + name + ": " + s.message());
  return s;
}

Status DropReplicationSlots(const std::string& admin_dsn, const std::string& name) {
  Conn admin(nullptr, &PQfinish);
  Status s = Connect(admin_dsn, nullptr, &admin);
  if (s.ok()) s = DropSlots(admin.get(), name);
  if (!s.ok())
    return Status::IOError("dropping the slots of database " + name + ": " + s.message());
  return s;
}

Status RecreateScratchDatabase(const std::string& admin_dsn, const std::string& name) {
  Conn admin(nullptr, &PQfinish);
  Status s = Connect(admin_dsn, nullptr, &admin);
  if (s.ok()) s = Drop(admin_dsn, admin.get(), name);
  if (s.ok()) s = Exec(admin.get(), "CREATE DATABASE " + Quoted(admin.get(), name, true), {});
  if (!s.ok()) return Status::IOError("recreating database " + name + ": " + s.message());
  return s;
}

}  // namespace dw::env
