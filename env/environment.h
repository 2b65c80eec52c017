// The embedded environment: a throwaway PostgreSQL 15 cluster and a broker
// process living in one state folder (default ./.dualwrite). Every command
// that is given no --dsn / --broker uses it, starting it on demand.
//
// State folder layout:
//   env.json      ports, pids, DSN, broker URL (written by Up)
//   pg/data       the cluster (initdb); owned by `postgres` when run as root
//   pg/run        unix socket folder;  pg/log/postgres.log
//   broker/       the broker's data dir (its log) and broker.log
#pragma once

#include <sys/types.h>

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dw::env {

struct Endpoints {
  std::string dsn;         // libpq connection string to database `dualwrite`
  std::string broker_url;  // http://127.0.0.1:PORT
};

class Environment {
 public:
  explicit Environment(std::string state_dir);

  // Creates the cluster on first use, starts Postgres and the broker when
  // they are not running (a broker that died is restarted), creates the
  // database `dualwrite`. Idempotent. Progress lines go to `log` (may be null).
  Status Up(Endpoints* out, std::ostream* log);

  // Stops the broker and Postgres cleanly (pg_ctl stop -m fast). With
  // `purge`, also deletes the state folder.
  Status Down(bool purge, std::ostream* log);

  // What `dualwrite env --json` prints: at least dsn, broker_url, postgres_pid,
  // broker_pid, running; plus prepared (in-doubt) transactions with ages and
  // whatever later subsystems add (outbox backlog, replication slots).
  Status Describe(nlohmann::json* out);

  const std::string& state_dir() const { return state_dir_; }

 private:
  std::string state_dir_;
};

// The endpoints a command should use: --dsn / --broker as given (never
// starting anything), and for whichever is missing the embedded environment
// in `state_dir`, brought up if it is not running.
Status Resolve(const std::string& state_dir, const std::string& dsn, const std::string& broker,
               Endpoints* out, std::ostream* log);

}  // namespace dw::env
