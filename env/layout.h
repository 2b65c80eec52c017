// Where everything lives inside a state folder. One place, so `up`, `down`,
// `env` and the docs in environment.h cannot drift apart.
#pragma once

#include <string>

namespace dw::env {

struct Layout {
  // `state_dir` is made absolute (and normalised): the paths end up in the
  // cluster's config and in a detached broker's argv, which outlive our cwd.
  explicit Layout(const std::string& state_dir);

  std::string root;        // the state folder
  std::string env_json;    // ports, pids, DSN, broker URL
  std::string lock_file;   // flock()ed by Up/Down so concurrent callers serialise
  std::string pg_dir;      // pg/ (owned by the cluster's OS user)
  std::string pg_data;     // pg/data
  std::string pg_run;      // pg/run: unix socket folder
  std::string pg_log_dir;  // pg/log
  std::string pg_log;      // pg/log/postgres.log
  std::string broker_dir;  // broker/: the broker's --data-dir
  // broker/broker.out: its stdout+stderr. Not broker.log: that name is the
  // broker's own record log inside its data dir, which must never see a
  // byte it did not write.
  std::string broker_log;
  std::string broker_pid;  // broker/broker.pid

  // Path of the unix socket Postgres creates for `port`.
  std::string SocketPath(int port) const;
};

// sun_path holds 108 bytes including the terminating NUL; Postgres refuses
// longer socket paths at start-up with a message that is easy to miss.
inline constexpr size_t kMaxSocketPath = 107;

}  // namespace dw::env
