// The "pgq" section of `dualwrite env`: whether pgqd runs for this state
// folder, and each queue's tick lag and each consumer's lag (plain SQL on
// the environment's DSN: env does not depend on outbox/).
#include <pqxx/pqxx>

#include "env/outbox_probes.h"
#include "env/pgqd_daemon.h"

namespace dw::env {

Status ProbePgq(const ProbeContext& ctx, nlohmann::json* section) {
  pid_t pgqd = ctx.layout ? PgqdDaemon(*ctx.layout).Running() : 0;
  nlohmann::json queues = nlohmann::json::array();
  bool has_pgq = false;
  if (ctx.postgres_running && !ctx.dsn.empty()) {
    try {
      pqxx::connection c(ctx.dsn + " connect_timeout=5");
      pqxx::read_transaction tx(c);
      has_pgq = tx.exec1("SELECT to_regnamespace('pgq') IS NOT NULL")[0].as<bool>();
      if (has_pgq) {
        for (const auto& q :
             tx.exec("SELECT queue_name, EXTRACT(EPOCH FROM ticker_lag)::float8, ev_new"
                     " FROM pgq.get_queue_info() ORDER BY 1")) {
          nlohmann::json consumers = nlohmann::json::array();
          for (const auto& r : tx.exec_params(
                   "SELECT consumer_name, EXTRACT(EPOCH FROM lag)::float8, pending_events,"
                   " current_batch FROM pgq.get_consumer_info($1) ORDER BY 1",
                   q[0].as<std::string>())) {
            consumers.push_back(
                {{"consumer", r[0].as<std::string>()},
                 {"lag_s", r[1].is_null() ? 0.0 : r[1].as<double>()},
                 {"pending_events", r[2].is_null() ? 0 : r[2].as<int64_t>()},
                 {"current_batch",
                  r[3].is_null() ? nlohmann::json() : nlohmann::json(r[3].as<int64_t>())}});
          }
          queues.push_back({{"queue", q[0].as<std::string>()},
                            {"ticker_lag_s", q[1].is_null() ? 0.0 : q[1].as<double>()},
                            {"ev_new", q[2].is_null() ? 0 : q[2].as<int64_t>()},
                            {"consumers", consumers}});
        }
      }
    } catch (const std::exception& e) {
      return Status::IOError(std::string("pgq: ") + e.what());
    }
  }
  if (!has_pgq && pgqd == 0) return Status::OK();
  *section = {{"pgqd_pid", pgqd}, {"queues", queues}};
  return Status::OK();
}

}  // namespace dw::env
