// The embedded PostgreSQL cluster in <state>/pg: created with initdb on first
// use, configured for the lab (2PC and logical decoding enabled), started and
// stopped with pg_ctl. Postgres refuses to run as root, so when we are root
// every server program runs as the `postgres` OS user, who owns pg/.
#pragma once

#include <sys/types.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/process.h"
#include "common/status.h"
#include "env/layout.h"

namespace dw::env {

// The libpq key=value DSN of the cluster listening on 127.0.0.1:`port`.
// TCP rather than the unix socket: it works for any OS user and in any
// container sharing the loopback.
std::string PostgresDsn(int port, const std::string& dbname = "dualwrite");

// The database every command uses.
inline constexpr const char* kDatabase = "dualwrite";

// A running postmaster, as its postmaster.pid describes it.
struct PostmasterInfo {
  pid_t pid = 0;
  int port = 0;
  std::string status;  // "ready", "starting", "stopping", "standby" (PG >= 10)
};

class PostgresCluster {
 public:
  explicit PostgresCluster(const Layout& layout) : layout_(layout) {}

  // Decides which binaries and which OS user the cluster uses, and checks
  // that this user can reach the state folder. Must precede Create, Start
  // and Stop. `remembered_bin_dir` (from env.json) wins while it still holds
  // the server programs: a cluster must keep the major version it was
  // created with.
  Status Init(const std::string& remembered_bin_dir);

  // True once pg/data holds a complete cluster. Create initdb's into a
  // scratch folder and renames it into place only when configured, so a
  // half-created cluster is never mistaken for a real one.
  bool Created() const;
  Status Create(std::ostream* log);

  // The postmaster of pg/data if one runs (stale pid files are ignored).
  std::optional<PostmasterInfo> Running() const;

  // (Re)writes the lab settings with `port` and starts the server, waiting
  // until it accepts connections. Retries a few times after a crash, while
  // the dead postmaster's children still hold its shared memory.
  Status Start(int port, std::ostream* log);

  // pg_ctl stop -m fast: disconnects clients, rolls back open (not
  // prepared) transactions, writes a shutdown checkpoint. Prepared
  // transactions survive, as they must.
  Status Stop(std::ostream* log);

  // Creates database `kDatabase` if it does not exist.
  Status EnsureDatabase(int port);

  const std::string& bin_dir() const { return bin_dir_; }
  // The OS user the server runs as (for messages and `env`).
  const std::string& os_user() const { return os_user_; }

 private:
  SpawnOptions RunAsOptions() const;
  Status Ctl(const std::vector<std::string>& args, std::string* output) const;
  Status WriteSettings(const std::string& data_dir, int port) const;
  Status ChownToServer(const std::string& path) const;
  std::string LogTail() const;

  Layout layout_;
  std::string bin_dir_;
  std::optional<uid_t> uid_;  // set when we are root: drop to this user
  std::optional<gid_t> gid_;
  std::string os_user_;
  std::string home_;
};

}  // namespace dw::env
