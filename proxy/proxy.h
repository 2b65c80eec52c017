// Proxy: a user-space TCP fault proxy. It sits between a client (the
// coordinator, a relay, a test) and an upstream (Postgres, the broker) and
// carries bytes both ways under faults that change at run time (faults.h):
// latency + jitter and bandwidth per direction, blackhole, reset, refuse.
// No dependency on tc/netem, which these machines lack.
//
// Threads: the proxy runs its own io_context on `threads` threads; each
// connection is a Session (session.h) on a strand of its own. Every method
// is thread-safe. Used in-process by tests and `compare`, and by
// `dualwrite proxy` (cli/cmd_proxy.cc).
//
// Control endpoint (when ProxyOptions::control is set), JSON bodies:
//   GET  /faults   -> 200 the current faults (faults.h)
//   POST /faults   {any subset}  -> 200 the faults now in force
//                               | 400 {"error"} bad JSON / unknown key / bad value
//                               | 503 {"error"} the listening socket could not be reopened
//   GET  /stats    -> 200 ProxyStats (stats.h)
//   GET  /healthz  -> 200 {"status": "ok"}
// Unknown path -> 404, wrong method -> 405.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "common/status.h"
#include "proxy/control.h"
#include "proxy/faults.h"
#include "proxy/host_port.h"
#include "proxy/stats.h"

namespace dw::proxy {

struct ProxyOptions {
  HostPort listen{"127.0.0.1", 0};  // port 0: any free port (see port())
  HostPort upstream;                // resolved once, at Start
  std::optional<HostPort> control;  // the control endpoint; none when empty
  int threads = 1;
  ProxyFaults faults;  // in force from the first connection on
};

class ControlServer;
class Listener;
class ProxyState;

class Proxy {
 public:
  // Resolves the upstream, binds the listening (and control) socket and
  // starts the threads. Errors: bad options or an unresolvable upstream
  // (InvalidArgument), a port in use (Unavailable).
  static Status Start(const ProxyOptions& opts, std::unique_ptr<Proxy>* out);
  ~Proxy();  // Stop()s
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Closes the sockets and joins the threads; open connections are closed.
  // Idempotent.
  void Stop();

  // Replaces the faults. reset=true resets every open connection now (and
  // every new one while it stays set); refuse opens/closes the listening
  // socket. InvalidArgument for out-of-range values, Unavailable if the
  // listening socket could not be reopened: in both cases nothing changed.
  Status SetFaults(const ProxyFaults& f);
  // Applies a JSON subset (faults.h, MergeFaultsJson) atomically with respect
  // to other changes, then as SetFaults.
  Status MergeFaults(std::string_view json);
  ProxyFaults faults() const;
  ProxyStats stats() const;

  uint16_t port() const;          // the listening port
  uint16_t control_port() const;  // 0 without a control endpoint
  // "dualwrite proxy: listening on 127.0.0.1:P, upstream H:P, control on 127.0.0.1:C"
  std::string StartupLine() const;

 private:
  Proxy() = default;
  Status SetFaultsLocked(const ProxyFaults& f);
  ControlReply HandleControl(const std::string& method, const std::string& target,
                             const std::string& body);

  ProxyOptions opts_;
  std::mutex set_mu_;  // one SetFaults at a time: listener and state change together
  std::unique_ptr<asio::io_context> ioc_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::shared_ptr<ProxyState> state_;
  std::shared_ptr<Listener> listener_;
  std::unique_ptr<ControlServer> control_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  uint16_t control_port_ = 0;
  bool stopped_ = false;
};

}  // namespace dw::proxy
