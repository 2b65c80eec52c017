// The embedded environment: a throwaway PostgreSQL 15 cluster and a broker
// process living in one state folder (default ./.dualwrite). Every command
// that is given no --dsn / --broker uses it, starting it on demand.
//
// State folder layout (see env/layout.h):
//   env.json      ports, pids, DSN, broker URL (written by Up)
//   .lock         flock()ed by Up and Down: concurrent callers take turns
//   pg/data       the cluster (initdb); owned by `postgres` when run as root
//   pg/run        unix socket folder;  pg/log/postgres.log
//   broker/       the broker's data dir (its own broker.log, broker.lock), plus
//                 broker.out (its stdout+stderr) and broker.pid
//   nats/         nats-server's JetStream store, pid, port and output, when
//                 asked for (`up --sinks nats`; see env/nats_daemon.h)
//   rabbitmq/     rabbitmq-server's node (data, cookie, logs, pids, ports) and
//                 its epmd, when asked for (`up --sinks rabbitmq`; see
//                 env/rabbitmq_daemon.h)
//
// Ports are chosen once and kept: a restart reuses them while they are free.
// As root, Postgres runs as the `postgres` OS user (it refuses root), which
// must be able to reach the state folder: not under /root, say.
#pragma once

#include <sys/types.h>

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "env/layout.h"
#include "env/probes.h"

namespace dw::env {

struct Endpoints {
  std::string dsn;         // libpq connection string to database `dualwrite`
  std::string broker_url;  // http://127.0.0.1:PORT
};

struct UpOptions {
  bool postgres = true;   // bring up the cluster (and database `dualwrite`)
  bool broker = true;     // bring up the broker
  bool nats = false;      // bring up nats-server with JetStream (a real broker)
  bool rabbitmq = false;  // bring up rabbitmq-server (a real broker)
  // Say "... is running" for parts that were already up. `up` does; the
  // other commands (through Resolve) only report what they had to start.
  bool report_running = true;
  // The executable that runs `broker serve`; empty: $DUALWRITE_BINARY if
  // set, else this very executable, which is right for the dualwrite CLI.
  // Another program (a test, a benchmark) calling Up or Resolve must set
  // one of the two.
  std::string dualwrite_binary;
};

class Environment {
 public:
  // `state_dir` may be relative: it is made absolute at once.
  explicit Environment(std::string state_dir);

  // Creates the cluster on first use, starts Postgres and the broker when
  // they are not running (a broker that died is restarted), creates the
  // database `dualwrite`. Idempotent: what runs is reused (same pids, same
  // ports). Progress lines go to `log` (may be null).
  Status Up(Endpoints* out, std::ostream* log);
  Status Up(const UpOptions& opts, Endpoints* out, std::ostream* log);

  // Stops the broker (SIGTERM, SIGKILL after a timeout) and Postgres
  // (pg_ctl stop -m fast). With `purge`, also deletes the state folder
  // (refused if it holds files dualwrite did not create). Idempotent.
  Status Down(bool purge, std::ostream* log);

  // What `dualwrite env --json` prints. Never starts anything and works on a
  // folder that does not exist (running: false). Keys:
  //   state_dir, running (postgres AND broker run), dsn, broker_url,
  //   postgres_pid, broker_pid (0 when not running),
  //   postgres {created, running, pid, port, status, os_user, data_dir,
  //             unix_socket, log}, broker {running, pid, port, url, data_dir, log},
  //   nats {running, pid, port, url, store, log} once a nats-server was started here,
  // then one key per probe that has something to say (BuiltinProbes():
  // prepared_transactions, broker_prepared; then those added with AddProbe).
  // The probes look at the embedded Postgres and broker, or at `given`'s
  // (the global --dsn / --broker, each on its own): then "dsn" (without
  // its password) and "broker_url" name the given ones, and "probed" says
  // "given" ("embedded" otherwise).
  Status Describe(nlohmann::json* out, const Endpoints& given = Endpoints{});

  // Adds a section to Describe (e.g. the outbox backlog, replication slots:
  // subsystems above env register theirs from the CLI layer).
  void AddProbe(Probe probe) { probes_.push_back(std::move(probe)); }

  // The absolute state folder.
  const std::string& state_dir() const { return state_dir_; }
  const Layout& layout() const { return layout_; }

 private:
  Status CheckPurgeable() const;

  std::string state_dir_;
  Layout layout_;
  std::vector<Probe> probes_;
};

// The endpoints a command should use: --dsn / --broker as given (never
// starting anything), and for whichever is missing the embedded environment
// in `state_dir`, brought up if it is not running.
Status Resolve(const std::string& state_dir, const std::string& dsn, const std::string& broker,
               Endpoints* out, std::ostream* log);

// The nats:// URL a command should use: `given` as is (nothing started),
// else the state folder's nats-server, started if it is not running.
Status ResolveNats(const std::string& state_dir, const std::string& given, std::string* url,
                   std::ostream* log);

// The amqp:// URL a command should use: `given` as is (nothing started),
// else the state folder's rabbitmq-server, started if it is not running.
Status ResolveRabbitmq(const std::string& state_dir, const std::string& given, std::string* url,
                       std::ostream* log);

}  // namespace dw::env
