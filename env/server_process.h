// ServerProcess: one throwaway server started as a child process on a
// loopback port, with its data in a folder of its own: the broker of a test,
// a benchmark, a compare cell or a lesson, and the embedded broker of `up`.
//
// What tells one kind of server from another is data, not a subclass: a
// ServerKind says how to build the command line for a port and a data
// folder, how to tell that the server is ready, and how its URL is spelled.
// A nats-server, a rabbitmq-server, pgqd or a 3PC agent is one more
// ServerKind value; everything else (spawn, wait until ready, SIGKILL,
// SIGTERM with a grace period, restart on the same port and data) is here.
//
// The port is chosen once (a free one unless given) and kept across
// restarts, so clients holding the URL reach the next incarnation. A port a
// killed server held can stay taken for a moment: Start tries again
// `start_attempts` times when the process exits before it is ready.
//
// Not thread-safe: one owner drives it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace dw::env {

struct ServerKind {
  std::string name;  // "broker": in messages ("the broker exited during start-up")
  // The full command line (binary first) for a server on 127.0.0.1:`port`
  // keeping its data in `data_dir`.
  std::function<std::vector<std::string>(int port, const std::string& data_dir)> argv;
  // True once the server on `port` answers; called every `probe_interval`
  // until it does, the process exits or `start_timeout` passes. It should
  // return within about half a second.
  std::function<bool(int port)> ready;
  std::string scheme = "http";  // url() is scheme://127.0.0.1:port
  std::chrono::milliseconds start_timeout{20000};
  std::chrono::milliseconds probe_interval{20};
};

struct ServerOptions {
  std::string data_dir;  // created by Start when missing
  std::string log_path;  // stdout + stderr, appended; empty: DATA_DIR/<kind name>.out
  int port = 0;          // 0: a free loopback port, chosen once
  int start_attempts = 1;
  // Detached: its own session (no terminal signals) and working folder, for
  // a server that outlives the process that started it (`dualwrite up`).
  bool new_session = false;
  std::string cwd;
  // When set, the pid is written here on spawn and removed when the server
  // stops or fails to start.
  std::string pid_file;
};

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(ServerKind kind, ServerOptions opts);
  ServerProcess(ServerProcess&& o) noexcept;
  ServerProcess& operator=(ServerProcess&& o) noexcept;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();  // Kill() while it runs, unless Release()d

  // Spawns it and waits until kind.ready passes. Fails (IOError) with the
  // last line of its log when it exits first, Timeout when it never becomes
  // ready (it is then killed). Already running: OK.
  Status Start();
  // SIGKILL and reap. Not running: OK.
  Status Kill();
  // SIGTERM, SIGKILL after `grace` (*killed, when given, says whether that
  // was needed). IOError when it survives even SIGKILL.
  Status Stop(std::chrono::milliseconds grace = std::chrono::seconds(10), bool* killed = nullptr);
  // Stop, then Start on the same port and data folder.
  Status Restart(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // False once the process has exited (it is reaped then).
  bool Running();
  // Forgets the process without stopping it (it outlives this object).
  void Release() { pid_ = -1; }

  pid_t pid() const { return pid_; }  // -1 when not running
  int port() const { return port_; }  // 0 when no free port was found
  std::string url() const;
  const std::string& data_dir() const { return opts_.data_dir; }
  const std::string& log_path() const { return opts_.log_path; }
  const std::string& name() const { return kind_.name; }

 private:
  Status StartOnce(bool* exited);
  void Forget();

  ServerKind kind_;
  ServerOptions opts_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// SIGTERM to `pid` (a child of ours or not), SIGKILL after `grace`; waits
// until it is gone; *killed (when given) says whether SIGKILL was needed.
// IOError when it survives SIGKILL for 10 s.
Status TerminateProcess(pid_t pid, std::chrono::milliseconds grace, bool* killed = nullptr);

// The last non-empty line among the final 16 KiB of the log at `path`
// ("" when unreadable): why a server would not start, usually.
std::string LastLogLine(const std::string& path);

}  // namespace dw::env
