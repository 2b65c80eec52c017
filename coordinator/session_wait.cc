#include "coordinator/session_wait.h"

#include <thread>

#include <pqxx/pqxx>

namespace dw::coord {

std::string SessionName(const std::string& coordinator_id) {
  return ("dualwrite-2pc:" + coordinator_id).substr(0, 63);
}

Status WaitForSessionsToEnd(const std::string& dsn, const std::string& application_name,
                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    pqxx::connection c{dsn};
    for (;;) {
      pqxx::nontransaction tx{c};
      int64_t n = tx.exec_params1(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
                        "AND pid <> pg_backend_pid()",
                        application_name)[0]
                      .as<int64_t>();
      tx.commit();
      if (n == 0) return Status::OK();
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status::Timeout(std::to_string(n) + " session(s) named '" + application_name +
                               "' still open after " + std::to_string(timeout.count()) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(std::string("cannot connect to Postgres: ") + e.what());
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading pg_stat_activity: ") + e.what());
  }
}

}  // namespace dw::coord
