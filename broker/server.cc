#include "broker/server.h"

#include <cstdio>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

namespace dw::broker {

struct HttpServer::Shared {
  Router* router;
  Faults* faults;
  Metrics* metrics;
  HttpServerOptions opts;
  std::shared_ptr<asio::ssl::context> tls;  // null: plain HTTP
  std::atomic<int> connections{0};
  std::atomic<int> inflight{0};
  std::atomic<bool> draining{false};
};

namespace {

constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
// After an error response: how long and how much to keep reading (and
// discarding) so the client can finish sending and read our answer.
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kLingerBytes = 64 << 20;

using Clock = std::chrono::steady_clock;

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == beast::error_code(http::error::bad_target).category();
}

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection; Stream is PlainStream or TlsStream. Timeouts, socket
// shutdown and the lingering read work on the TCP layer underneath
// (Lowest()), requests and responses go through `stream_`.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  // Plain; TLS (the context outlives the server). Only the one matching
  // Stream is ever instantiated.
  Session(tcp::socket&& socket, std::shared_ptr<HttpServer::Shared> sh)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), sh_(std::move(sh)) {}
  Session(tcp::socket&& socket, asio::ssl::context& ctx, std::shared_ptr<HttpServer::Shared> sh)
      : stream_(std::move(socket), ctx), timer_(stream_.get_executor()), sh_(std::move(sh)) {}

  ~Session() {
    if (counted_) sh_->inflight.fetch_sub(1);
    sh_->connections.fetch_sub(1);
  }

  void Run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Start, this->shared_from_this()));
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Start() {
    if constexpr (kTls) {
      // The handshake is the start of the first request: same deadline.
      Lowest().expires_after(sh_->opts.read_timeout);
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
    } else {
      WaitRequest();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      sh_->metrics->tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      beast::error_code ignored;
      auto peer = Lowest().socket().remote_endpoint(ignored);
      std::string why = TlsErrorText(ec == beast::error::timeout ? "timed out" : ec.message(),
                                     stream_.native_handle());
      std::fprintf(stderr, "dualwrite broker: TLS handshake from %s:%u failed: %s\n",
                   peer.address().to_string().c_str(), static_cast<unsigned>(peer.port()),
                   why.c_str());
      return Close();
    }
    WaitRequest();
  }

  // Keep-alive idle phase: wait for the first byte of the next request (or
  // use bytes already buffered from a pipelining client).
  void WaitRequest() {
    if (buffer_.size() > 0) return ReadHeader();
    Lowest().expires_after(sh_->opts.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(kReadChunk),
        beast::bind_front_handler(&Session::OnFirstBytes, this->shared_from_this()));
  }

  void OnFirstBytes(beast::error_code ec, size_t n) {
    if (ec) return Close();  // idle timeout, EOF, reset: nothing to answer
    buffer_.commit(n);
    ReadHeader();
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->body_limit(sh_->opts.max_body);
    parser_->header_limit(kHeaderLimit);
    Lowest().expires_after(sh_->opts.read_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnHeader, this->shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    auto& req = parser_->get();
    if (!parser_->is_done() && beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      http::async_write(stream_, *cont,
                        [self = this->shared_from_this(), cont](beast::error_code e, size_t) {
                          if (e) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return OnRequest();
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, this->shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    OnRequest();
  }

  void OnReadError(const beast::error_code& ec) {
    if (ec == http::error::body_limit) {
      return Fail(413, "request body is larger than --max-body (" +
                           std::to_string(sh_->opts.max_body) + " bytes)");
    }
    if (ec == http::error::header_limit) return Fail(431, "request header is too large");
    if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      return Fail(400, "malformed HTTP request: " + ec.message());
    }
    Close();  // timeout, reset, EOF mid-request: nobody to answer
  }

  void OnRequest() {
    if (sh_->faults->Down()) return Close();
    auto& req = parser_->get();
    start_ = Clock::now();
    counted_ = true;
    sh_->inflight.fetch_add(1);
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    req_ = HttpRequest{std::string(req.method_string()), std::string(req.target()),
                       std::move(req.body()), std::string(req[http::field::authorization])};
    parser_.reset();
    if (Router::AddsLatency(req_.target)) {
      auto delay = sh_->faults->NextDelay();
      if (delay.count() > 0) {
        timer_.expires_after(delay);
        timer_.async_wait([self = this->shared_from_this()](beast::error_code e) {
          if (e) return self->Close();
          self->Dispatch();
        });
        return;
      }
    }
    Dispatch();
  }

  void Dispatch() {
    // The router may answer from another thread (the writer): hop back onto
    // this connection's strand before touching the stream.
    sh_->router->Handle(req_, [self = this->shared_from_this()](HttpResult r) {
      asio::post(self->stream_.get_executor(),
                 [self, r = std::move(r)]() mutable { self->Send(std::move(r), false); });
    });
  }

  // Writes `r`; `fatal` responses (bad HTTP) close with a lingering read.
  void Send(HttpResult r, bool fatal) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "dualwrite-broker");
    res->set(http::field::content_type, r.content_type);
    if (!r.allow.empty()) res->set(http::field::allow, r.allow);
    const bool close = fatal || !keep_alive_ || sh_->draining.load();
    res->keep_alive(!close);
    res->body() = std::move(r.body);
    res->prepare_payload();
    sh_->metrics->ObserveRequest(r.route, r.status,
                                 std::chrono::duration<double>(Clock::now() - start_).count());
    Lowest().expires_after(sh_->opts.write_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, close, fatal](
                          beast::error_code ec, size_t) { self->OnWrite(ec, close, fatal); });
  }

  void OnWrite(beast::error_code ec, bool close, bool fatal) {
    if (counted_) {
      counted_ = false;
      sh_->inflight.fetch_sub(1);
    }
    if (ec) return Close();
    if (fatal) return Linger();
    if (close) {
      // Over TLS too, a TCP shutdown without a close_notify: the response
      // carries its own length, so the client has all of it, and waiting
      // for the peer's close_notify would hold the connection slot.
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      return;  // the last handler lets go of the session: the socket closes
    }
    WaitRequest();
  }

  void Fail(int status, const std::string& msg) {
    start_ = Clock::now();
    version_ = 11;
    HttpResult r;
    r.status = status;
    r.body = std::string("{\"error\":") + JsonString(msg) + "}";
    r.route = "malformed";
    Send(std::move(r), true);
  }

  // A short ASCII message as a JSON string literal (the socket layer does not
  // need a JSON library for its few error bodies).
  static std::string JsonString(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(c);
      } else if (c < 0x20 || c >= 0x7f) {
        out.push_back('?');
      } else {
        out.push_back(c);
      }
    }
    return out + "\"";
  }

  void Linger() {
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    linger_deadline_ = Clock::now() + kLingerTime;
    buffer_.clear();
    LingerRead();
  }

  void LingerRead() {
    if (Clock::now() >= linger_deadline_ || lingered_ >= kLingerBytes) return Close();
    Lowest().expires_at(linger_deadline_);
    // Raw TCP: we only discard what the client still sends (TLS records
    // included) so that it reads our error response instead of a reset.
    Lowest().async_read_some(buffer_.prepare(kReadChunk),
                             [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                               if (ec) return self->Close();
                               self->lingered_ += n;
                               self->buffer_.clear();
                               self->LingerRead();
                             });
  }

  void Close() {
    beast::error_code ec;
    Lowest().socket().close(ec);
  }

  Stream stream_;
  asio::steady_timer timer_;
  std::shared_ptr<HttpServer::Shared> sh_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest req_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  bool counted_ = false;  // a request of ours is in sh_->inflight
  Clock::time_point start_;
  Clock::time_point linger_deadline_;
  size_t lingered_ = 0;
};

}  // namespace

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, std::shared_ptr<HttpServer::Shared> sh)
      : ioc_(ioc),
        acceptor_(asio::make_strand(ioc)),
        retry_(acceptor_.get_executor()),
        sh_(std::move(sh)) {}

  Status Bind(const tcp::endpoint& ep) {
    beast::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return Status::Unavailable("cannot listen on " + ep.address().to_string() + ":" +
                                 std::to_string(ep.port()) + ": " + ec.message());
    }
    return Status::OK();
  }

  tcp::endpoint local_endpoint() const {
    beast::error_code ec;
    return acceptor_.local_endpoint(ec);
  }

  void Start() {
    asio::dispatch(acceptor_.get_executor(),
                   beast::bind_front_handler(&Listener::DoAccept, shared_from_this()));
  }

  void Stop() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      self->stopped_ = true;
      beast::error_code ec;
      self->acceptor_.close(ec);
      self->retry_.cancel();
    });
  }

 private:
  void DoAccept() {
    if (stopped_) return;
    acceptor_.async_accept(asio::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (stopped_) return;
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning.
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (!e) self->DoAccept();
      });
      return;
    }
    if (sh_->faults->Down() || sh_->connections.load() >= sh_->opts.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else if (sh_->tls) {
      sh_->connections.fetch_add(1);
      std::make_shared<Session<TlsStream>>(std::move(socket), *sh_->tls, sh_)->Run();
    } else {
      sh_->connections.fetch_add(1);
      std::make_shared<Session<PlainStream>>(std::move(socket), sh_)->Run();
    }
    DoAccept();
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::shared_ptr<HttpServer::Shared> sh_;
  bool stopped_ = false;  // acceptor strand only
};

HttpServer::HttpServer(asio::io_context& ioc, Router* router, Faults* faults, Metrics* metrics,
                       const HttpServerOptions& opts)
    : ioc_(ioc), shared_(std::make_shared<Shared>()) {
  shared_->router = router;
  shared_->faults = faults;
  shared_->metrics = metrics;
  shared_->opts = opts;
}

HttpServer::~HttpServer() = default;

Status HttpServer::Bind(const std::string& host, uint16_t port) {
  if (shared_->opts.tls.enabled()) {
    Status s = MakeServerTlsContext(shared_->opts.tls, &shared_->tls);
    if (!s.ok()) return s;
  }
  beast::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return Status::InvalidArgument("not an IP address: " + host);
  listener_ = std::make_shared<Listener>(ioc_, shared_);
  Status s = listener_->Bind(tcp::endpoint(addr, port));
  if (!s.ok()) {
    listener_.reset();
    return s;
  }
  endpoint_ = listener_->local_endpoint();
  return s;
}

tcp::endpoint HttpServer::local_endpoint() const { return endpoint_; }

void HttpServer::Start() {
  if (listener_) listener_->Start();
}

void HttpServer::StopAccepting() {
  if (listener_) listener_->Stop();
}

void HttpServer::BeginDrain() { shared_->draining.store(true); }

int HttpServer::inflight() const { return shared_->inflight.load(); }

}  // namespace dw::broker
