#include "participants/pg_schema.h"

#include <pqxx/pqxx>

namespace dw {

Status ApplyDdl(const std::string& dsn, int64_t lock_key, const std::vector<std::string>& ddl,
                const std::string& what) {
  try {
    pqxx::connection c{dsn};
    pqxx::work tx{c};
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(lock_key) + ")");
    for (const auto& stmt : ddl) tx.exec0(stmt);
    tx.commit();
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(what + ": cannot connect to Postgres: " + e.what());
  } catch (const std::exception& e) {
    return Status::IOError(what + ": " + e.what());
  }
  return Status::OK();
}

}  // namespace dw
