// HttpServer: the broker's HTTP/1.1 front end on Boost.Beast, shaped like
// Beast's http_server_async example - a Listener accepting on its own strand
// and one Session per connection (enable_shared_from_this, all of its work on
// one strand), the io_context run by N threads. Requests go to the Router;
// responses come back from any thread and are posted to the session's strand.
//
// Connection rules:
//   - keep-alive; requests on one connection are answered in order.
//   - idle timeout (no byte of a next request for `idle_timeout`), and
//     `read_timeout` to read a whole request once its first byte arrived.
//   - body over `max_body` -> 413; header over 16 KiB -> 431; malformed
//     HTTP -> 400; each with {"error": ...}, then the connection is closed
//     (after a short lingering read, so the client sees the response instead
//     of a reset while it is still sending).
//   - "Expect: 100-continue" is honoured.
//   - more than `max_connections` open: new ones are closed at accept.
//   - the "down" fault (faults.h) closes connections without a response.
//   - TLS (opts.tls set, see tls_context.h): every connection starts with a
//     TLS handshake, bounded by `read_timeout` and counted against
//     `max_connections` like any connection; a failed handshake is logged
//     as one line on stderr, counted in dw_broker_tls_handshake_failures_total
//     and closed. The plain and TLS paths are one session template
//     instantiated for each stream type: no per-operation indirection, so the
//     plain path costs what it did before TLS existed.
// Thread-safe: Start/StopAccepting/BeginDrain may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "broker/faults.h"
#include "broker/metrics.h"
#include "broker/router.h"
#include "broker/tls_context.h"
#include "common/asio.h"
#include "common/status.h"

namespace dw::broker {

class Listener;

struct HttpServerOptions {
  size_t max_body = 1 << 20;
  int max_connections = 1024;
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  TlsServerFiles tls;  // nothing set: plain HTTP
};

class HttpServer {
 public:
  // Pointers are not owned and must outlive the server and the io_context's handlers.
  HttpServer(asio::io_context& ioc, Router* router, Faults* faults, Metrics* metrics,
             const HttpServerOptions& opts);
  ~HttpServer();

  // Loads the TLS files (if any: InvalidArgument when they are unusable),
  // then binds and listens (the port is taken from then on). Port 0 picks a free one.
  Status Bind(const std::string& host, uint16_t port);
  tcp::endpoint local_endpoint() const;

  void Start();          // begins accepting (after Bind)
  void StopAccepting();  // closes the listening socket
  void BeginDrain();     // from now on every response closes its connection
  int inflight() const;  // requests read and not yet fully answered

  struct Shared;  // what the listener and the sessions share (server.cc)

 private:
  asio::io_context& ioc_;
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<Listener> listener_;
  tcp::endpoint endpoint_;
};

}  // namespace dw::broker
