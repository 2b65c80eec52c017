#include "outbox/pg_util.h"

#include "participants/pg_pool.h"

namespace dw::outbox {

std::string WithConnectTimeout(const std::string& dsn, int seconds) {
  if (dsn.find("connect_timeout") != std::string::npos) return dsn;
  std::string kv = "connect_timeout=" + std::to_string(seconds);
  if (dsn.starts_with("postgresql://") || dsn.starts_with("postgres://")) {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + kv;
  }
  return dsn.empty() ? kv : dsn + " " + kv;
}

Status WithConnection(const std::string& dsn, const std::string& context,
                      const std::function<void(pqxx::connection&)>& fn) {
  try {
    pqxx::connection c{WithConnectTimeout(dsn)};
    fn(c);
    return Status::OK();
  } catch (...) {
    return StatusFromPgException(nullptr, context);
  }
}

}  // namespace dw::outbox
