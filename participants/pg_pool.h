// PgPool: a small thread-safe pool of libpqxx connections to one Postgres
// DSN, shared by the Postgres participant, the outbox and the coordinator.
//
// Connections open lazily, up to `max_connections`. Acquire() hands out a
// Lease; destroying the lease gives the connection back, unless it broke.
// A broken connection is never reused: libpqxx 6.4 silently reconnects a
// broken connection object on its next exec, which would run the caller's
// next statements on a new backend, outside the transaction it thinks it is
// in (see API-FACTS). So a lease whose connection saw
// pqxx::broken_connection is marked broken and the pool destroys it.
//
// Every connection gets, once, at open:
//   - connect_timeout in the DSN (an unreachable host fails in bounded time);
//   - SET statement_timeout: bounds every statement, including lock waits.
//     lock_timeout stays off by default on purpose: a prepared transaction's
//     locks blocking other sessions is one of the lessons this project
//     demonstrates, so we let such waits happen, bounded by statement_timeout;
//   - a notice filter that drops the "there is no transaction in progress"
//     warning, which the COMMIT libpqxx sends after PREPARE TRANSACTION draws.
//
// libpqxx throws; this layer may too, inside a lease. Code that talks to
// Postgres through a lease catches there and turns the exception into a
// Status with StatusFromPgException() below.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "common/status.h"
#include "participants/pg_connection.h"

namespace dw {

class PgPool : public std::enable_shared_from_this<PgPool> {
 public:
  struct Options {
    std::string dsn;  // libpq key=value or postgresql:// URI
    int max_connections = 8;
    std::chrono::seconds connect_timeout{5};
    // 0 disables it (not recommended: an unbounded lock wait then hangs a caller forever).
    std::chrono::milliseconds statement_timeout{30000};
    std::chrono::milliseconds lock_timeout{0};  // 0: off, see above
    // How long Acquire waits for a connection when all max_connections are leased.
    std::chrono::milliseconds acquire_timeout{30000};
    // Distinct SQL texts kept as server-side prepared statements per
    // connection; past that, Lease::Prepared() returns "" and callers fall
    // back to exec_params (keeps a caller with unbounded distinct SQL from
    // growing every backend's memory).
    size_t max_prepared_statements = 256;
    std::string application_name = "dualwrite";
  };

  struct Stats {
    int open = 0;  // connections that exist: idle, leased or being opened
    int idle = 0;
    uint64_t opened_total = 0;   // connections ever opened
    uint64_t dropped_total = 0;  // connections discarded because they broke
  };

  class Lease;

  // Validates the options; opens no connection (the first Acquire does).
  static Status Create(const Options& opts, std::shared_ptr<PgPool>* out);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // A connection of the pool: an idle one (checked for a dead socket first)
  // or a new one when fewer than max_connections exist.
  //   Unavailable: Postgres could not be reached (one-line message, no password);
  //   Timeout:     all connections stayed leased for acquire_timeout.
  Status Acquire(Lease* out);

  // The DSN with any password removed, for messages.
  const std::string& redacted_dsn() const { return redacted_dsn_; }
  const Options& options() const { return opts_; }
  Stats stats() const;

 private:
  struct Conn;
  explicit PgPool(const Options& opts);
  Status Open(std::unique_ptr<Conn>* out);
  void Release(std::unique_ptr<Conn> c, bool broken);

  const Options opts_;
  std::string dsn_;  // opts_.dsn plus connect_timeout
  std::string redacted_dsn_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
  int open_ = 0;                             // guarded by mu_; counts connections being opened
  uint64_t opened_total_ = 0;                // guarded by mu_
  uint64_t dropped_total_ = 0;               // guarded by mu_
};

// One connection, checked out of the pool. Move-only; destroying it returns
// the connection (or drops it when broken). The lease keeps its pool alive.
class PgPool::Lease {
 public:
  Lease();
  Lease(Lease&&) noexcept;
  Lease& operator=(Lease&&) noexcept;
  ~Lease();

  explicit operator bool() const { return conn_ != nullptr; }
  pqxx::connection_base& conn();
  // The connection's libpq handle, for a call libpqxx cannot make (see
  // pg_connection.h for the rules); nullptr when it holds none.
  PGconn* raw();

  // The name of a server-side prepared statement for `sql` on this
  // connection (declared with pqxx::connection::prepare on first use), or ""
  // when the per-connection cache is full: then use exec_params.
  std::string Prepared(const std::string& sql);

  // The connection is unusable (pqxx::broken_connection, a FATAL error, a
  // transaction left in an unknown state): the pool destroys it.
  void MarkBroken() { broken_ = true; }

  // Returns the connection now (same as destruction).
  void Reset();

 private:
  friend class PgPool;
  std::shared_ptr<PgPool> pool_;
  std::unique_ptr<Conn> conn_;
  bool broken_ = false;
};

// Turns the exception being handled into a Status. Call it only inside a
// catch block (it rethrows the current exception to look at it). Marks
// `lease` broken when the connection did not survive. Mapping:
//   pqxx::broken_connection, SQLSTATE 08xxx / 57P0x   -> Unavailable
//   57014 (statement_timeout), 55P03 (lock_timeout)   -> Timeout
//   pqxx::in_doubt_error, 40003                       -> InDoubt
//   53100 (disk full)                                 -> NoSpace
//   other SQL errors, 40001/40P01 (serialization,
//   deadlock: transaction_rollback in libpqxx 6.4)    -> Aborted
//   libpqxx usage / conversion errors                 -> InvalidArgument
//   anything else                                     -> IOError
// The message is `context` + ": " + the server's first line + " [SQLSTATE x]".
// When `sqlstate` is non-null it receives the SQLSTATE ("" if none).
Status StatusFromPgException(PgPool::Lease* lease, const std::string& context,
                             std::string* sqlstate = nullptr);

// The same mapping for a failed libpq result `r` of `lease`'s raw()
// connection (one whose status is neither PGRES_COMMAND_OK nor
// PGRES_TUPLES_OK). A result without a SQLSTATE on a connection whose
// status is now bad is the lost connection (Unavailable, lease marked
// broken); with one, as above.
Status StatusFromPgResult(PgPool::Lease* lease, const std::string& context, const PGresult* r,
                          std::string* sqlstate = nullptr);

// For a libpq call on `lease`'s raw() connection that failed without a
// result (PQsendQuery refused, the connection gone): Unavailable with
// libpq's error message, and the lease marked broken.
Status StatusFromPgConnection(PgPool::Lease* lease, const std::string& context);

}  // namespace dw
