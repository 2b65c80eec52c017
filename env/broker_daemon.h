// The embedded broker: `dualwrite broker serve` started detached (its own
// session, output to <state>/broker/broker.out) so it outlives `up`, and
// recognised later by its pid (env.json and broker/broker.pid) plus its argv,
// since pids are reused. Started through the broker kind of ServerProcess,
// released once ready: a later `down` stops it by pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ostream>
#include <string>

#include "common/status.h"
#include "env/broker_process.h"
#include "env/layout.h"

namespace dw::env {

class BrokerDaemon {
 public:
  // `binary`: the dualwrite executable to run `broker serve` with.
  BrokerDaemon(const Layout& layout, std::string binary)
      : layout_(layout), binary_(std::move(binary)) {}

  // The broker's pid if `remembered` (or, when 0, the pid file's) is a live
  // `broker serve` on our data dir; else 0.
  pid_t Running(pid_t remembered) const;

  // Starts it on 127.0.0.1:`port` and waits until GET /healthz answers 200.
  // Fails with the last line of its output when it exits or never answers.
  Status Start(int port, pid_t* pid, std::ostream* log);

  // True when GET /healthz answers 200 within `timeout`.
  static bool Healthy(int port, std::chrono::milliseconds timeout) {
    return BrokerHealthy(port, timeout);
  }

  // SIGTERM, then SIGKILL after `grace`; removes the pid file.
  Status Stop(pid_t pid, std::ostream* log,
              std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  Layout layout_;
  std::string binary_;
};

}  // namespace dw::env
