// Listener: the proxy's listening socket and accept loop. It can be closed
// and reopened on the same port at run time (the `refuse` fault), which a
// strand cannot serve well - Proxy::SetFaults may run on any thread, an io
// thread included, and must know whether the reopen worked - so the acceptor
// is guarded by a mutex instead: every call on it, the async_accept
// initiations included, is made under mu_. A generation number tells the
// completion of an accept issued before a close from the current loop's.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "common/asio.h"
#include "common/status.h"
#include "proxy/state.h"

namespace dw::proxy {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, std::shared_ptr<ProxyState> state);

  // Binds, listens and starts accepting. Port 0 picks a free port, which is
  // then kept for any reopen. Unavailable when the port is taken.
  Status Open(const tcp::endpoint& ep);
  // Closes the listening socket: connecting is refused from now on.
  void Close();
  // Opens it again on the same address (no-op when open).
  Status Reopen();
  tcp::endpoint endpoint() const;

 private:
  Status OpenLocked();
  void AcceptLocked();
  void OnAccept(uint64_t gen, const beast::error_code& ec, tcp::socket socket);

  asio::io_context& ioc_;
  std::shared_ptr<ProxyState> state_;
  mutable std::mutex mu_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  tcp::endpoint endpoint_;
  uint64_t gen_ = 0;
  bool open_ = false;
};

}  // namespace dw::proxy
