#include "broker/http_transport.h"

#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "broker/plain_http_io.h"
#include "broker/tls_context.h"
#include "common/asio.h"  // before the other Asio headers (see common/asio.h)

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

namespace dw::broker {
namespace {

using Clock = std::chrono::steady_clock;

// An Options field, else the environment variable `var`, else "".
std::string OrEnv(const std::string& field, const char* var) {
  if (!field.empty()) return field;
  const char* v = std::getenv(var);
  return v ? v : "";
}

// The bearer token file's first line, trailing blanks removed (the same
// rule as `broker serve --token-file`).
Status ReadTokenFile(const std::string& path, std::string* token) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read broker token file " + path);
  std::getline(in, *token);
  while (!token->empty() && (token->back() == '\r' || token->back() == ' ')) token->pop_back();
  if (token->empty()) return Status::InvalidArgument("broker token file " + path + " is empty");
  return Status::OK();
}

// The broker refused our TLS connection for want of an acceptable
// certificate. Under TLS 1.3 the client's handshake ends before the server
// has checked the client certificate, so this arrives as an alert on the
// first read or write. It is a refusal, not a lost response: the broker
// only reads requests from an authenticated connection.
bool IsPeerRefusal(const beast::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return false;
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      return true;
    default:
      return false;
  }
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One keep-alive connection. The io_context is private to it, so a request
// drives its own async operations (and their deadlines) with run() on the
// calling thread, and connections never contend. Exactly one of plain / tls
// is set. Over TLS every step is an async operation; a plain connection
// uses them only to connect, and exchanges requests with plain_http_io.h.
struct Conn {
  asio::io_context ioc{1};
  std::optional<beast::tcp_stream> plain;  // after ioc: destroyed before it
  std::optional<TlsStream> tls;
  beast::flat_buffer buffer;

  explicit Conn(asio::ssl::context* ctx) {
    if (ctx) {
      tls.emplace(ioc, *ctx);
    } else {
      plain.emplace(ioc);
    }
  }

  beast::tcp_stream& tcp() { return tls ? tls->next_layer() : *plain; }
  int fd() { return tcp().socket().native_handle(); }

  // Starts one async operation via `init(handler)` and runs it to completion.
  template <class Init>
  beast::error_code Run(Init&& init) {
    beast::error_code result = asio::error::would_block;
    init([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  Clock::time_point idle_since;  // when it went back to the pool

  // An idle connection must have nothing to read: EOF means the broker
  // closed it (restart, idle timeout), data means it sent something unasked
  // (e.g. a 408 before closing). Either way it is not reusable.
  bool IdleUsable() {
    if (!tcp().socket().is_open()) return false;
    // Unasked data is what a server sends when it times an idle connection
    // out, which no server does within a second. A close in that second (a
    // broker restart) a plain exchange notices by itself, before any byte
    // of a response: the write fails or the read meets the end of the
    // stream, and the request is sent again on a new connection (Exchange).
    // So a plain connection idle for less than a second skips the check, a
    // system call on every keep-alive request of a busy client. (Over TLS
    // such a close reads as a truncated stream, which is not retried.)
    if (!tls && Clock::now() - idle_since < std::chrono::seconds(1)) return true;
    // Over TLS the peek sees raw records: any (an alert, a close, data)
    // means the same, while a TLS 1.3 session ticket was consumed with the
    // response that followed it.
    char b;
    ssize_t n = ::recv(tcp().socket().native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

}  // namespace

struct HttpTransport::Impl {
  Options opts;
  std::string host;         // for TLS name checks (no brackets)
  std::string host_header;  // host[:port]
  std::string path_prefix;  // "" or "/base"
  tcp::resolver::results_type endpoints;
  std::shared_ptr<asio::ssl::context> tls;  // null: plain HTTP

  std::mutex mu;
  std::vector<std::unique_ptr<Conn>> idle;  // guarded by mu
  SSL_SESSION* session = nullptr;           // guarded by mu: the last resumable one
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> opened{0};
  std::atomic<uint64_t> resumed{0};

  ~Impl() {
    idle.clear();
    if (session) SSL_SESSION_free(session);
  }

  // TLS handshake on a freshly connected `c`, offering the last session.
  beast::error_code Handshake(Conn& c, Clock::time_point deadline, Status* setup) {
    SSL* ssl = c.tls->native_handle();
    *setup = PrepareClientTls(ssl, host);
    if (!setup->ok()) return asio::error::invalid_argument;
    {
      std::lock_guard<std::mutex> l(mu);
      if (session) SSL_set_session(ssl, session);
    }
    c.tcp().expires_at(deadline);
    beast::error_code ec =
        c.Run([&](auto h) { c.tls->async_handshake(asio::ssl::stream_base::client, h); });
    if (!ec && SSL_session_reused(ssl)) resumed.fetch_add(1, std::memory_order_relaxed);
    return ec;
  }

  // After a response on a TLS connection: keep its session for the next
  // connection (TLS 1.3 tickets arrive after the handshake, so only now).
  // A copy: OpenSSL marks a connection's own session not resumable when the
  // connection is freed without a TLS shutdown, which is how pooled
  // connections end (a plain TCP close, see tls_context.h).
  void SaveSession(Conn& c) {
    SSL_SESSION* live = SSL_get1_session(c.tls->native_handle());
    if (!live) return;
    SSL_SESSION* s = SSL_SESSION_is_resumable(live) ? SSL_SESSION_dup(live) : nullptr;
    SSL_SESSION_free(live);
    if (!s) return;
    std::lock_guard<std::mutex> l(mu);
    if (session) SSL_SESSION_free(session);
    session = s;
  }

  std::unique_ptr<Conn> TakeIdle() {
    std::vector<std::unique_ptr<Conn>> dead;  // closed outside the lock
    std::lock_guard<std::mutex> l(mu);
    while (!idle.empty()) {
      std::unique_ptr<Conn> c = std::move(idle.back());
      idle.pop_back();
      if (c->IdleUsable()) return c;
      dead.push_back(std::move(c));
    }
    return nullptr;
  }

  void PutIdle(std::unique_ptr<Conn> c) {
    c->idle_since = Clock::now();
    std::lock_guard<std::mutex> l(mu);
    if (static_cast<int>(idle.size()) < opts.max_idle_connections) idle.push_back(std::move(c));
  }

  void DropIdle() {
    std::vector<std::unique_ptr<Conn>> dead;
    std::lock_guard<std::mutex> l(mu);
    dead.swap(idle);
  }

  // Connects if it must and writes the request (see Call).
  Status Send(Call& k);
  // Reads the response of what Send wrote. *again: the broker had closed
  // the pooled connection without reading it; Send again.
  // `late`: the caller did other work since the request was sent (a
  // started call's Finish), so the answer is likely there already.
  Status Receive(Call& k, HttpResponse* resp, bool* again, bool late);
  Status Finish(Call& k, HttpResponse* resp, bool late);
};

// One request through its attempts: the first on a pooled connection if
// there is one, a second on a new connection when the broker turns out to
// have closed the pooled one without reading the request.
struct HttpTransport::Call {
  http::verb verb;
  std::string target;  // as given, for messages
  std::string body;
  Clock::time_point deadline;
  std::string what;                                     // "POST /transactions/x/prepare"
  std::optional<http::request<http::string_body>> req;  // https:// only
  std::string plain_bytes;                              // http:// only: made once
  int attempt = 0;
  // Set once a request was completely written on some attempt: from then on
  // a failure leaves the outcome unknown.
  bool sent = false;
  bool sent_before = false;  // `sent` before this attempt's write
  bool reused = false;
  std::unique_ptr<Conn> c;
  Status failed;  // a failure Send met, which Receive returns
};

Status HttpTransport::Impl::Send(Call& k) {
  for (; k.attempt < 2; ++k.attempt) {
    // A failure that proves this attempt's request was not taken: Unavailable,
    // unless an earlier attempt's request was sent.
    auto not_taken = [&](const std::string& m) {
      if (k.sent)
        return Status::InDoubt(m + " (after an earlier attempt of " + k.what +
                               " was sent: it may have been applied)");
      return Status::Unavailable(m);
    };
    k.c = TakeIdle();
    k.reused = k.c != nullptr;
    Conn* c = k.c.get();
    if (!c) {
      k.c = std::make_unique<Conn>(tls.get());
      c = k.c.get();
      c->tcp().expires_at(k.deadline);
      beast::error_code ec = c->Run([&](auto h) { c->tcp().async_connect(endpoints, h); });
      if (ec) {
        DropIdle();  // the broker is probably gone: so are its idle connections
        return not_taken(
            "broker " + opts.url + " unreachable: " +
            (ec == beast::error::timeout ? std::string("connect timed out") : ec.message()));
      }
      beast::error_code ignored;
      c->tcp().socket().set_option(tcp::no_delay(true), ignored);
      if (c->tls) {
        Status setup;
        ec = Handshake(*c, k.deadline, &setup);
        if (!setup.ok()) return setup;
        if (ec) {
          return not_taken(
              "broker " + opts.url + ": TLS handshake failed: " +
              TlsErrorText(ec == beast::error::timeout ? std::string("timed out") : ec.message(),
                           c->tls->native_handle()));
        }
      }
      opened.fetch_add(1, std::memory_order_relaxed);
    }
    k.sent_before = k.sent;

    beast::error_code ec;
    if (c->tls) {
      if (!k.req) {
        k.req.emplace(k.verb, path_prefix + k.target, 11);
        http::request<http::string_body>& req = *k.req;
        req.set(http::field::host, host_header);
        req.set(http::field::user_agent, "dualwrite/0.1");
        if (!opts.bearer_token.empty())
          req.set(http::field::authorization, "Bearer " + opts.bearer_token);
        if (!k.body.empty()) req.set(http::field::content_type, "application/json");
        req.body() = k.body;
        req.keep_alive(opts.max_idle_connections > 0);
        req.prepare_payload();
      }
      c->tcp().expires_at(k.deadline);
      ec = c->Run([&](auto h) { http::async_write(*c->tls, *k.req, h); });
    } else {
      if (k.plain_bytes.empty()) {
        k.plain_bytes = PlainRequestBytes(k.verb, path_prefix + k.target, host_header,
                                          opts.bearer_token, k.body, opts.max_idle_connections > 0);
      }
      ec = PlainSend(c->fd(), k.plain_bytes, k.deadline);
    }
    if (ec) {
      if (ec == beast::error::timeout) {
        return Status::Timeout(k.what + ": broker did not take the request within " +
                               std::to_string(opts.timeout.count()) + " ms");
      }
      if (IsPeerRefusal(ec)) {
        return not_taken("broker " + opts.url + " refused the TLS connection: " + ec.message());
      }
      // A write that failed never delivered a whole request: on a reused
      // connection, the broker closed it while idle. Try a fresh one.
      if (k.reused && k.attempt == 0) continue;
      std::string m = k.what + ": sending to broker failed: " + ec.message();
      return k.sent ? Status::InDoubt(m) : Status::Unavailable(m);
    }
    k.sent = true;
    return Status::OK();
  }
  return Status::InDoubt(k.what + ": broker closed the connection twice");  // not reached
}

Status HttpTransport::Impl::Receive(Call& k, HttpResponse* resp, bool* again, bool late) {
  *again = false;
  Conn* c = k.c.get();
  http::response_parser<http::string_body> parser;
  parser.body_limit(opts.max_response_bytes);
  beast::error_code ec;
  if (c->tls) {
    c->tcp().expires_at(k.deadline);
    ec = c->Run([&](auto h) { http::async_read(*c->tls, c->buffer, parser, h); });
  } else {
    ec = PlainReadResponse(c->fd(), c->buffer, parser, k.deadline, late);
  }
  if (ec) {
    if (ec == beast::error::timeout) {
      return Status::Timeout(k.what + ": no response from broker within " +
                             std::to_string(opts.timeout.count()) +
                             " ms; it may or may not have applied the request");
    }
    if (!k.reused && !parser.got_some() && IsPeerRefusal(ec)) {
      k.sent = k.sent_before;
      const std::string m = "broker " + opts.url + " refused the TLS connection: " + ec.message() +
                            " (is the client certificate missing or from another CA?)";
      if (k.sent)
        return Status::InDoubt(m + " (after an earlier attempt of " + k.what +
                               " was sent: it may have been applied)");
      return Status::Unavailable(m);
    }
    // The broker closed a reused connection without answering: it shut
    // the idle connection down as our request arrived. Once, retry fresh;
    // if the broker is really gone, the retry reports InDoubt.
    if (k.reused && k.attempt == 0 && !parser.got_some() &&
        (ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset)) {
      ++k.attempt;
      *again = true;
      return Status::OK();
    }
    return Status::InDoubt(k.what + ": connection to broker lost before a response (" +
                           ec.message() + "); it may or may not have applied the request");
  }
  auto& res = parser.get();
  resp->status = res.result_int();
  resp->body = std::move(res.body());
  requests.fetch_add(1, std::memory_order_relaxed);
  if (c->tls && !k.reused) SaveSession(*c);
  if (res.keep_alive() && !res.need_eof() && c->buffer.size() == 0) PutIdle(std::move(k.c));
  return Status::OK();
}

Status HttpTransport::Impl::Finish(Call& k, HttpResponse* resp, bool late) {
  if (!k.failed.ok()) return k.failed;
  for (;;) {
    bool again = false;
    Status s = Receive(k, resp, &again, late);
    late = false;  // a request sent again was sent just now
    if (!again) return s;
    s = Send(k);
    if (!s.ok()) return s;
  }
}

HttpTransport::HttpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpTransport::~HttpTransport() = default;

Status HttpTransport::Create(const Options& opts, std::unique_ptr<HttpTransport>* out) {
  if (opts.timeout.count() <= 0) return Status::InvalidArgument("broker timeout must be > 0");
  std::string rest = opts.url;
  const bool https = rest.starts_with("https://");
  if (https) {
    rest = rest.substr(8);
  } else if (rest.starts_with("http://")) {
    rest = rest.substr(7);
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string host, port = https ? "443" : "80";
  if (authority.starts_with("[")) {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("bad broker URL " + opts.url);
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("bad broker URL '" + opts.url +
                                   "': want http://HOST:PORT or https://HOST:PORT");
  }
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  Options& o = impl->opts;
  o.ca_file = OrEnv(o.ca_file, "DUALWRITE_BROKER_CA");
  o.cert_file = OrEnv(o.cert_file, "DUALWRITE_BROKER_CERT");
  o.key_file = OrEnv(o.key_file, "DUALWRITE_BROKER_KEY");
  if (o.bearer_token.empty()) {
    std::string token_file = OrEnv("", "DUALWRITE_BROKER_TOKEN_FILE");
    if (!token_file.empty()) {
      Status s = ReadTokenFile(token_file, &o.bearer_token);
      if (!s.ok() && !o.token_file_optional) return s;
      if (!s.ok()) o.bearer_token.clear();
    }
  }
  if (https) {
    Status s = MakeClientTlsContext({o.ca_file, o.cert_file, o.key_file}, &impl->tls);
    if (!s.ok()) return Status::InvalidArgument("broker URL " + opts.url + ": " + s.message());
  }
  impl->host = host;
  impl->host_header = authority;
  impl->path_prefix = path;
  try {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    impl->endpoints = resolver.resolve(host, port);
  } catch (const std::exception& e) {
    return Status::Unavailable("broker URL " + opts.url + ": cannot resolve " + host + ": " +
                               e.what());
  }
  out->reset(new HttpTransport(std::move(impl)));
  return Status::OK();
}

HttpTransport::Stats HttpTransport::stats() const {
  Stats s;
  s.requests = impl_->requests.load();
  s.connections_opened = impl_->opened.load();
  s.tls_resumed = impl_->resumed.load();
  std::lock_guard<std::mutex> l(impl_->mu);
  s.idle = impl_->idle.size();
  return s;
}

namespace {

Status CheckRequest(const std::string& method, const std::string& target, http::verb* v) {
  *v = http::string_to_verb(method);
  if (*v == http::verb::unknown) return Status::InvalidArgument("unknown HTTP method " + method);
  if (target.empty() || target[0] != '/') {
    return Status::InvalidArgument("HTTP target must start with '/': " + target);
  }
  return Status::OK();
}

}  // namespace

HttpTransport::Pending::Pending(Impl* impl, std::unique_ptr<Call> call)
    : impl_(impl), call_(std::move(call)) {}
HttpTransport::Pending::~Pending() = default;

Status HttpTransport::Pending::Finish(HttpResponse* resp) {
  if (!call_) return Status::InvalidArgument("Finish called twice");
  Status s = impl_->Finish(*call_, resp, late_);
  call_.reset();
  return s;
}

Status HttpTransport::Start(const std::string& method, const std::string& target, std::string body,
                            std::unique_ptr<Pending>* out) {
  http::verb v;
  if (Status s = CheckRequest(method, target, &v); !s.ok()) return s;
  auto k = std::make_unique<Call>();
  k->verb = v;
  k->target = target;
  k->body = std::move(body);
  k->deadline = Clock::now() + impl_->opts.timeout;
  k->what = method + " " + target;
  k->failed = impl_->Send(*k);
  out->reset(new Pending(impl_.get(), std::move(k)));
  return Status::OK();
}

Status HttpTransport::Exchange(const std::string& method, const std::string& target,
                               const std::string& body, HttpResponse* resp) {
  std::unique_ptr<Pending> p;
  if (Status s = Start(method, target, body, &p); !s.ok()) return s;
  p->late_ = false;  // read at once: nothing can have come yet
  return p->Finish(resp);
}

}  // namespace dw::broker
