#include "coordinator/log_identity.h"

#include <pqxx/pqxx>

#include "coordinator/pg_decision_log.h"

namespace dw::coord {

Status CheckLogIdentity(const std::string& dsn, const std::string& coordinator_id,
                        const std::string& log) {
  Status s = PgDecisionLog::EnsureSchema(dsn);
  if (!s.ok()) return s;
  std::string recorded;
  try {
    pqxx::connection c{dsn};
    pqxx::nontransaction tx{c};
    pqxx::row r = tx.exec_params1(
        "INSERT INTO dw_coordinators (id, decision_log) VALUES ($1, $2) "
        "ON CONFLICT (id) DO UPDATE SET decision_log = "
        " COALESCE(dw_coordinators.decision_log, EXCLUDED.decision_log) "
        "RETURNING decision_log",
        coordinator_id, log);
    recorded = r[0].as<std::string>();
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(std::string("cannot connect to Postgres: ") + e.what());
  } catch (const std::exception& e) {
    return Status::IOError(std::string("checking the coordinator's decision log: ") + e.what());
  }
  if (recorded != log) {
    return Status::FailedPrecondition(
        "coordinator '" + coordinator_id + "' keeps its decisions in " + recorded + ", not in " +
        log + ": pass --log " + recorded +
        " (recovery with another log would abort committed transactions), or use another "
        "--coordinator-id");
  }
  return Status::OK();
}

}  // namespace dw::coord
