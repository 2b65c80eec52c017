// pgqd, PgQ's ticker daemon, as a managed process of a state folder. PgQ
// delivers nothing without ticks: a tick records a transaction snapshot, and
// a batch is what became visible between two ticks. pgqd calls pgq.ticker()
// in every database of its list every `ticker_period`, runs PgQ's
// maintenance (event table rotation, retry queue) and reconnects by itself,
// though only 60 s after it lost a connection (a fixed delay in pgqd 3.5).
//
// Files, in <state>/pgqd/ (owned by the cluster's OS user when we are root,
// since pgqd then runs as that user, never as root):
//   pgqd.ini   written by Start from the DSN and the settings
//   pgqd.log   pgqd's own log (truncated at each start)
//   pgqd.out   its stdout + stderr;  pgqd.pid  its pid (ours, not pgqd's)
// Started detached (its own session) so that it outlives the command that
// started it, and recognised later by its pid plus its argv (pids are reused).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ostream>
#include <string>

#include "common/status.h"
#include "env/daemon_frame.h"
#include "env/layout.h"

namespace dw::env {

struct PgqdSettings {
  // How often pgqd calls pgq.ticker(): the floor of PgQ's delivery latency
  // (a tick is due also when the queue's ticker_max_lag passed).
  double ticker_period_s = 0.05;
  // How often it looks for databases that gained the pgq extension, and
  // runs maintenance (rotation, retries). Short: a lab's databases are new.
  double check_period_s = 1;
  double maint_period_s = 10;
  double retry_period_s = 5;
};

class PgqdDaemon {
 public:
  explicit PgqdDaemon(const Layout& layout);

  // The pid of a live pgqd started for this state folder; else 0.
  pid_t Running() const { return frame_.Running(); }

  // Starts pgqd for the database of `dsn` (a libpq key=value string or URI)
  // unless one runs already with the same ini (*started says which; one
  // running with another ini, e.g. another database, is restarted), and waits until it has
  // connected to that database (its log says so). The pgq extension must
  // exist in the database by then: pgqd only ticks databases that have it.
  Status Ensure(const std::string& dsn, const PgqdSettings& settings, pid_t* pid, bool* started,
                std::ostream* log);

  // SIGTERM, SIGKILL after `grace`; removes the pid file. Not running: OK.
  Status Stop(std::ostream* log, std::chrono::milliseconds grace = std::chrono::seconds(5));

  // The ini text for `dsn` (exposed for the docs and tests).
  Status IniText(const std::string& dsn, const PgqdSettings& settings, std::string* out) const;

  const std::string& dir() const { return dir_; }
  const std::string& ini_path() const { return ini_; }
  const std::string& log_path() const { return log_; }

 private:
  std::string dir_, ini_, log_;
  DaemonFrame frame_;
};

}  // namespace dw::env
