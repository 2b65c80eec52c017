#include "participants/pg_connection.h"

namespace dw {

PgConnection::PgConnection(const std::string& dsn) : pqxx::connection_base(policy_), policy_(dsn) {
  init();
}

PgConnection::~PgConnection() noexcept { close(); }

// Each hook returns the handle libpqxx keeps from then on (it assigns the
// return value to its own copy): remember exactly that.
PgConnection::Policy::handle PgConnection::Policy::do_startconnect(handle h) {
  current_ = pqxx::connect_direct::do_startconnect(h);
  return current_;
}

PgConnection::Policy::handle PgConnection::Policy::do_completeconnect(handle h) {
  current_ = pqxx::connect_direct::do_completeconnect(h);
  return current_;
}

PgConnection::Policy::handle PgConnection::Policy::do_dropconnect(handle h) noexcept {
  current_ = pqxx::connect_direct::do_dropconnect(h);
  return current_;
}

PgConnection::Policy::handle PgConnection::Policy::do_disconnect(handle h) noexcept {
  current_ = pqxx::connect_direct::do_disconnect(h);
  return current_;
}

}  // namespace dw
