// rabbitmq-server: a second real broker for the outbox family, as a managed
// process of a state folder (`dualwrite up --sinks rabbitmq`, stopped by
// `down`, shown by `env`).
//
// A RabbitMQ node is an Erlang VM that registers with an epmd (the Erlang
// port mapper) and listens on three ports: AMQP, Erlang distribution and
// epmd's. Each state folder runs its own epmd on a port of its own
// (ERL_EPMD_PORT), started by us in the foreground so that its pid is ours to
// stop: an epmd the VM starts itself daemonizes and outlives `down`. All three
// bind 127.0.0.1 (the distribution port only through
// `-kernel inet_dist_use_interface`; by default it binds every address).
//
// Files, in <state>/rabbitmq/ (owned by the cluster's OS user when we are
// root, since the node then runs as that user):
//   home/       HOME: the Erlang cookie (.erlang.cookie) is created there
//   mnesia/     RABBITMQ_MNESIA_BASE: the node's queues and messages
//   log/        RABBITMQ_LOG_BASE
//   rabbitmq.out      the node's stdout + stderr (its log goes there too)
//   rabbitmq.pid      the Erlang VM's pid (written by the VM itself)
//   launcher.pid      the rabbitmq-server script that started the VM
//   epmd.pid, epmd.out
//   rabbitmq.ports    "AMQP DISTRIBUTION EPMD", chosen once and kept
// The node is started with an empty environment (env -i) plus its own
// variables, so neither /etc/rabbitmq/rabbitmq-env.conf nor the caller's
// RABBITMQ_* settings apply. It takes about 8 s to accept AMQP clients.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "env/daemon_frame.h"
#include "env/layout.h"

namespace dw::env {

// The rabbitmq-server script (/usr/lib/rabbitmq/bin, where Debian puts it;
// /usr/sbin's wrapper insists on the `rabbitmq` user and /var/lib/rabbitmq).
// FailedPrecondition, one line naming the Debian package, when missing.
Status RabbitmqServerBinary(std::string* path);

// True when an AMQP 0-9-1 server on 127.0.0.1:`port` answers the protocol
// header with a frame within `timeout` (Connection.Start: it accepts clients).
bool AmqpAnswers(int port, std::chrono::milliseconds timeout);

class RabbitmqDaemon {
 public:
  explicit RabbitmqDaemon(const Layout& layout);

  // The pid of the live Erlang VM of this state folder's node; else 0.
  pid_t Running() const { return node_.Running(); }
  // The AMQP port it was last started on (0: never).
  int Port() const;
  static std::string Url(int port) {
    return "amqp://guest:guest@127.0.0.1:" + std::to_string(port) + "/";
  }

  // Starts epmd and the node unless the node runs and answers (*started
  // says which), on the remembered ports while they are free.
  Status Ensure(pid_t* pid, int* port, bool* started, std::ostream* log);

  // SIGTERM to the VM (a clean shutdown: about 1.5 s), SIGKILL after
  // `grace`; then its launcher and epmd. Not running: OK.
  Status Stop(std::ostream* log, std::chrono::milliseconds grace = std::chrono::seconds(15));

  // {running, pid, port, url, node, data, log}: the `rabbitmq` key of `env --json`.
  nlohmann::json Describe() const;

  const std::string& dir() const { return dir_; }
  static constexpr const char* kNode = "dualwrite@localhost";

 private:
  bool ReadPorts(int* amqp, int* dist, int* epmd) const;
  // epmd's frame: its pid counts as ours while it carries `-port <port>`.
  DaemonFrame Epmd(int port) const;

  std::string dir_, home_, mnesia_, logs_, out_, pid_file_, epmd_pid_, epmd_out_, ports_file_;
  DaemonFrame node_;      // the Erlang VM (rabbitmq.pid)
  DaemonFrame launcher_;  // the rabbitmq-server script that starts it (launcher.pid)
};

}  // namespace dw::env
