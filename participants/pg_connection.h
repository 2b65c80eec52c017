// PgConnection: a libpqxx connection that also lends its libpq handle.
//
// libpqxx 6.4 keeps its PGconn private, and its pipeline, the one way it
// offers to send a statement and read the answer later, prefixes a batch of
// several queries with a SELECT of its own to tell where their results
// begin: one statement more for Postgres to parse, plan and answer per
// started prepare. With the handle, a caller can send a multi-statement
// text with PQsendQuery and read one result per statement with PQgetResult,
// which is what the simple query protocol answers anyway.
//
// How the handle is obtained: libpqxx opens and closes its connection
// through a connection policy (pqxx::connectionpolicy, the extension point
// its connection classes are built on), passing the handle through each
// hook. This class is pqxx::connection with a policy that remembers the
// handle each hook returns, so raw() always names the handle libpqxx holds.
//
// Using raw(): between libpqxx calls only, never inside a libpqxx
// transaction object's lifetime, and read every result (PQgetResult until
// nullptr) before libpqxx uses the connection again; a connection left
// otherwise must be dropped (PgPool::Lease::MarkBroken). libpqxx's notice
// processor stays installed, so notices still reach its error handlers.
//
// Not thread-safe (as pqxx::connection).
#pragma once

#include <libpq-fe.h>

#include <string>

#include <pqxx/pqxx>

namespace dw {

class PgConnection : public pqxx::connection_base {
 public:
  // Connects at once (as pqxx::connection); throws pqxx::broken_connection.
  explicit PgConnection(const std::string& dsn);
  ~PgConnection() noexcept;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // libpqxx's libpq handle; nullptr while it holds none (closed).
  PGconn* raw() const { return policy_.current(); }

 private:
  class Policy : public pqxx::connect_direct {
   public:
    explicit Policy(const std::string& dsn) : pqxx::connect_direct(dsn) {}
    handle do_startconnect(handle h) override;
    handle do_completeconnect(handle h) override;
    handle do_dropconnect(handle h) noexcept override;
    handle do_disconnect(handle h) noexcept override;
    PGconn* current() const { return current_; }

   private:
    PGconn* current_ = nullptr;
  };

  // Constructed after the base, which only stores a reference to it until
  // the constructor's body connects (as libpqxx's own connection classes).
  Policy policy_;
};

}  // namespace dw
