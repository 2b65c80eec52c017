// ControlServer: the proxy's small HTTP/1.1 control endpoint (Beast), on the
// proxy's io_context. It knows nothing of faults: each request is handed to
// a ControlHandler (Proxy supplies the routes: GET|POST /faults, GET /stats,
// GET /healthz - see proxy.h). Keep-alive; 10 s to read a request or write a
// response; bodies over 64 KiB -> 413, malformed HTTP -> 400, each followed
// by closing the connection. Handlers run on the connection's strand and
// must not block for long.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/asio.h"
#include "common/status.h"

namespace dw::proxy {

struct ControlReply {
  int status = 200;
  std::string body;   // JSON
  std::string allow;  // for 405
};

using ControlHandler = std::function<ControlReply(
    const std::string& method, const std::string& target, const std::string& body)>;

class ControlListener;

class ControlServer {
 public:
  ControlServer(asio::io_context& ioc, ControlHandler handler);
  ~ControlServer();

  // Binds, listens and starts accepting. Unavailable when the port is taken.
  Status Start(const tcp::endpoint& ep);
  void Stop();
  tcp::endpoint endpoint() const { return endpoint_; }

 private:
  asio::io_context& ioc_;
  std::shared_ptr<const ControlHandler> handler_;
  std::shared_ptr<ControlListener> listener_;
  tcp::endpoint endpoint_;
};

}  // namespace dw::proxy
