#include "proxy/listener.h"

#include <chrono>
#include <utility>

#include "proxy/session.h"

namespace dw::proxy {

Listener::Listener(asio::io_context& ioc, std::shared_ptr<ProxyState> state)
    : ioc_(ioc), state_(std::move(state)), acceptor_(ioc), retry_(ioc) {}

Status Listener::Open(const tcp::endpoint& ep) {
  std::lock_guard lock(mu_);
  endpoint_ = ep;
  return OpenLocked();
}

Status Listener::Reopen() {
  std::lock_guard lock(mu_);
  if (open_) return Status::OK();
  return OpenLocked();
}

void Listener::Close() {
  std::lock_guard lock(mu_);
  if (!open_) return;
  open_ = false;
  ++gen_;
  beast::error_code ignored;
  acceptor_.close(ignored);  // a pending accept completes with operation_aborted
  retry_.cancel();
}

tcp::endpoint Listener::endpoint() const {
  std::lock_guard lock(mu_);
  return endpoint_;
}

Status Listener::OpenLocked() {
  beast::error_code ec;
  acceptor_.open(endpoint_.protocol(), ec);
  // SO_REUSEADDR: a reopen must not fail on connections of the last
  // incarnation still in TIME_WAIT.
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint_, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return Status::Unavailable("cannot listen on " + endpoint_.address().to_string() + ":" +
                               std::to_string(endpoint_.port()) + ": " + ec.message());
  }
  endpoint_ = acceptor_.local_endpoint(ec);
  open_ = true;
  ++gen_;
  AcceptLocked();
  return Status::OK();
}

void Listener::AcceptLocked() {
  // Each connection gets a strand of its own: its session's handlers never
  // run concurrently, while different sessions use all the io threads.
  acceptor_.async_accept(
      asio::make_strand(ioc_),
      [self = shared_from_this(), gen = gen_](const beast::error_code& ec, tcp::socket socket) {
        self->OnAccept(gen, ec, std::move(socket));
      });
}

void Listener::OnAccept(uint64_t gen, const beast::error_code& ec, tcp::socket socket) {
  std::lock_guard lock(mu_);
  if (gen != gen_ || !open_) return;  // closed (and maybe reopened) meanwhile
  if (ec) {
    // Out of file descriptors and the like: back off instead of spinning.
    retry_.expires_after(std::chrono::milliseconds(50));
    retry_.async_wait([self = shared_from_this(), gen](const beast::error_code& e) {
      if (e) return;
      std::lock_guard l(self->mu_);
      if (gen == self->gen_ && self->open_) self->AcceptLocked();
    });
    return;
  }
  state_->accepted.fetch_add(1);
  const ProxyFaults f = state_->faults();
  if (f.reset) {
    beast::error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
    state_->resets.fetch_add(1);
  } else {
    std::make_shared<Session>(std::move(socket), state_, f.blackhole)->Start();
  }
  AcceptLocked();
}

}  // namespace dw::proxy
