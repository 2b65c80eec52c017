// nats-server with JetStream: the real broker the outbox relays can publish
// to (`outbox relay --sink nats`), as a process kind of ServerProcess (the
// tests' throwaway servers) and as a managed process of a state folder
// (`dualwrite up --sinks nats`, stopped by `down`, shown by `env`).
//
// Files, in <state>/nats/ (owned by the cluster's OS user when we are root,
// since nats-server then runs as that user, never as root):
//   jetstream/  the JetStream file store (-sd)
//   nats.out    its stdout + stderr;  nats.pid  its pid;  nats.port  its port
// It binds 127.0.0.1 only, on a free port chosen once and kept (nats.port).
// Started detached (its own session) so that it outlives the command that
// started it, and recognised later by its pid plus its argv (pids are reused).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "env/daemon_frame.h"
#include "env/layout.h"
#include "env/server_process.h"

namespace dw::env {

// The nats-server executable ($PATH, then /usr/sbin where Debian puts it).
// FailedPrecondition, one line naming the Debian package, when missing.
Status NatsServerBinary(std::string* path);

// nats-server on 127.0.0.1:port with JetStream and its store in
// DATA_DIR/jetstream; ready once the port answers with the protocol's INFO
// line. `run_as`: an OS user to run it as through setpriv (empty: ourselves).
ServerKind NatsKind(const std::string& binary, const std::string& run_as = "");

// True when a NATS server on 127.0.0.1:`port` sends its INFO line within
// `timeout`.
bool NatsAnswers(int port, std::chrono::milliseconds timeout);

class NatsDaemon {
 public:
  explicit NatsDaemon(const Layout& layout);

  // The pid of a live nats-server started for this state folder; else 0.
  pid_t Running() const { return frame_.Running(); }
  // The port it was last started on (0: never).
  int Port() const;
  static std::string Url(int port) { return "nats://127.0.0.1:" + std::to_string(port); }

  // Starts it unless it runs and answers (*started says which), on its
  // remembered port while that is free, else on a fresh one.
  Status Ensure(pid_t* pid, int* port, bool* started, std::ostream* log);

  // SIGTERM (nats-server flushes its store), SIGKILL after `grace`;
  // removes the pid file. Not running: OK.
  Status Stop(std::ostream* log, std::chrono::milliseconds grace = std::chrono::seconds(10));

  // {running, pid, port, url, store, log}: the `nats` key of `env --json`.
  nlohmann::json Describe() const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, store_, out_, port_file_;
  DaemonFrame frame_;
};

}  // namespace dw::env
