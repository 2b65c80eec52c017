#include "proxy/control.h"

#include <chrono>
#include <optional>
#include <utility>

namespace dw::proxy {
namespace {

constexpr std::chrono::seconds kIoTimeout{10};
constexpr uint64_t kMaxBody = 64 * 1024;

std::string ErrorJson(const std::string& msg) {
  // The messages here are our own ASCII text: no JSON library needed.
  std::string out = "{\"error\":\"";
  for (char c : msg) out += (c == '"' || c == '\\') ? '\'' : c;
  return out + "\"}";
}

class ControlSession : public std::enable_shared_from_this<ControlSession> {
 public:
  ControlSession(tcp::socket socket, std::shared_ptr<const ControlHandler> handler)
      : stream_(std::move(socket)), handler_(std::move(handler)) {}

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    stream_.expires_after(kIoTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](const beast::error_code& ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(const beast::error_code& ec) {
    if (ec == http::error::body_limit) {
      return Send(ControlReply{413, ErrorJson("body over 64 KiB"), ""}, 11, true);
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return Close();
    }
    if (ec)
      return Send(ControlReply{400, ErrorJson("malformed HTTP: " + ec.message()), ""}, 11, true);
    auto req = parser_->release();
    ControlReply r;
    try {
      r = (*handler_)(std::string(req.method_string()), std::string(req.target()), req.body());
    } catch (const std::exception& e) {
      r = ControlReply{500, ErrorJson(std::string("internal error: ") + e.what()), ""};
    }
    Send(std::move(r), req.version(), !req.keep_alive());
  }

  void Send(ControlReply r, unsigned version, bool close) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version);
    res->set(http::field::server, "dualwrite-proxy");
    res->set(http::field::content_type, "application/json");
    if (!r.allow.empty()) res->set(http::field::allow, r.allow);
    res->keep_alive(!close);
    res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(kIoTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, close](const beast::error_code& ec, size_t) {
                        if (ec || close) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;  // the last handler lets go of the session
                        }
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<const ControlHandler> handler_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

class ControlListener : public std::enable_shared_from_this<ControlListener> {
 public:
  ControlListener(asio::io_context& ioc, std::shared_ptr<const ControlHandler> handler)
      : ioc_(ioc),
        acceptor_(asio::make_strand(ioc)),
        retry_(acceptor_.get_executor()),
        handler_(std::move(handler)) {}

  Status Bind(const tcp::endpoint& ep, tcp::endpoint* bound) {
    beast::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) *bound = acceptor_.local_endpoint(ec);
    if (ec) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return Status::Unavailable("cannot listen on " + ep.address().to_string() + ":" +
                                 std::to_string(ep.port()) + " (control): " + ec.message());
    }
    return Status::OK();
  }

  void Start() {
    asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->Accept(); });
  }

  void Stop() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      self->stopped_ = true;
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
    });
  }

 private:
  void Accept() {
    if (stopped_) return;
    acceptor_.async_accept(
        asio::make_strand(ioc_),
        [self = shared_from_this()](const beast::error_code& ec, tcp::socket socket) {
          if (self->stopped_) return;
          if (!ec) {
            std::make_shared<ControlSession>(std::move(socket), self->handler_)->Run();
            return self->Accept();
          }
          // Out of file descriptors and the like: back off instead of spinning.
          self->retry_.expires_after(std::chrono::milliseconds(50));
          self->retry_.async_wait([self](const beast::error_code& e) {
            if (!e) self->Accept();
          });
        });
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::shared_ptr<const ControlHandler> handler_;
  bool stopped_ = false;  // acceptor strand only
};

ControlServer::ControlServer(asio::io_context& ioc, ControlHandler handler)
    : ioc_(ioc), handler_(std::make_shared<const ControlHandler>(std::move(handler))) {}

ControlServer::~ControlServer() = default;

Status ControlServer::Start(const tcp::endpoint& ep) {
  auto l = std::make_shared<ControlListener>(ioc_, handler_);
  if (Status s = l->Bind(ep, &endpoint_); !s.ok()) return s;
  listener_ = std::move(l);
  listener_->Start();
  return Status::OK();
}

void ControlServer::Stop() {
  if (listener_) listener_->Stop();
}

}  // namespace dw::proxy
