#include "participants/broker_client.h"

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

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "broker/api.h"
#include "broker/tls_context.h"
#include "common/asio.h"  // before the other Asio headers (see common/asio.h)
#include "common/json_text.h"
#include "common/names.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

namespace dw {
namespace {

using json = nlohmann::json;
namespace api = broker::api;
namespace key = broker::api::key;
using Clock = std::chrono::steady_clock;

// Strict UTF-8 (what the broker's parser accepts): no overlong forms, no
// surrogates, nothing above U+10FFFF. NUL is a valid code point.
bool ValidUtf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

Status CheckMessage(const OutMessage& m) {
  if (!ValidUtf8(m.id)) return Status::InvalidArgument("message id is not valid UTF-8");
  const std::string who =
      "message '" + (m.id.size() > 64 ? m.id.substr(0, 64) + "..." : m.id) + "'";
  if (!ValidUtf8(m.key)) return Status::InvalidArgument(who + ": key is not valid UTF-8");
  if (!ValidUtf8(m.payload)) {
    return Status::InvalidArgument(
        who + ": payload is not valid UTF-8 (encode binary data, e.g. base64)");
  }
  return Status::OK();
}

Status CheckName(const char* what, const std::string& s) {
  if (!ValidName(s)) {
    return Status::InvalidArgument(std::string("invalid ") + what + " '" + s +
                                   "': want [A-Za-z0-9._:-]{1,200}");
  }
  return Status::OK();
}

// {"id":...,"key":...,"payload":...[,"topic":...]} (the bytes nlohmann would
// dump), appended to *out. The strings must have passed CheckMessage.
// "name":"value" (the key needs no escaping: api.h's keys are plain words).
void AppendField(const char* name, std::string_view value, std::string* out) {
  out->push_back('"');
  out->append(name);
  out->append("\":");
  AppendJsonString(value, out);
}

void AppendMessageJson(const OutMessage& m, bool with_topic, std::string* out) {
  out->push_back('{');
  AppendField(key::kId, m.id, out);
  out->push_back(',');
  AppendField(key::kKey, m.key, out);
  out->push_back(',');
  AppendField(key::kPayload, m.payload, out);
  if (with_topic) {
    out->push_back(',');
    AppendField(key::kTopic, m.topic, out);
  }
  out->push_back('}');
}

// {"messages":[...]}: the body of a batch publish and of a prepare. Written
// directly, not through a DOM: a relay sends 1000 messages per request.
Status MessagesBody(const std::vector<OutMessage>& ms, bool with_topic, std::string* out) {
  size_t raw = 0;
  for (const auto& m : ms) {
    if (with_topic) {
      if (Status s = CheckName("topic", m.topic); !s.ok()) return s;
    }
    if (Status s = CheckMessage(m); !s.ok()) return s;
    raw += m.id.size() + m.key.size() + m.payload.size() + (with_topic ? m.topic.size() : 0);
  }
  out->clear();
  out->reserve(raw + raw / 8 + 64 * ms.size() + 16);  // escapes are rare; growth covers them
  out->append("{\"").append(key::kMessages).append("\":[");
  for (size_t i = 0; i < ms.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendMessageJson(ms[i], with_topic, out);
  }
  out->append("]}");
  return Status::OK();
}

// The broker's reason for a non-2xx answer: its {"error"} (or a prepare's
// {"reason"}), else the start of the body.
std::string ErrorText(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    for (const char* k : {key::kError, key::kReason}) {
      auto it = j.find(k);
      if (it != j.end() && it->is_string()) return it->get<std::string>();
    }
  }
  std::string t = body.substr(0, 200);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

Status StatusFromResponse(const HttpResponse& r, const std::string& what) {
  if (r.status >= 200 && r.status < 300) return Status::OK();
  std::string err = ErrorText(r.body);
  return api::StatusForHttp(
      r.status, what + ": HTTP " + std::to_string(r.status) + (err.empty() ? "" : ": " + err));
}

// Parses a 2xx body; nlohmann's exceptions stay in here.
template <class Fn>
Status ParseBody(const HttpResponse& r, const std::string& what, Fn&& fn) {
  try {
    json j = json::parse(r.body);
    fn(j);
  } catch (const json::exception& e) {
    return Status::IOError(what + ": unexpected response from broker: " + e.what());
  }
  return Status::OK();
}

std::chrono::system_clock::time_point FromUnixMs(int64_t ms) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::milliseconds(ms)));
}

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
// is set; With() picks it once per operation, not per byte.
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

  template <class Fn>
  void With(Fn&& fn) {
    if (tls) {
      fn(*tls);
    } else {
      fn(*plain);
    }
  }

  // Starts one async operation via `init(handler)` and runs it to completion.
  template <class Init>
  beast::error_code Run(Init&& init) {
    beast::error_code result = asio::error::would_block;
    init([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  // An idle connection must have nothing to read: EOF means the broker
  // closed it (restart, idle timeout), data means it sent something unasked
  // (e.g. a 408 before closing). Either way it is not reusable.
  bool IdleUsable() {
    // Over TLS the peek sees raw records: any (an alert, a close, data)
    // means the same, while a TLS 1.3 session ticket was consumed with the
    // response that followed it.
    if (!tcp().socket().is_open()) return false;
    char b;
    ssize_t n = ::recv(tcp().socket().native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

}  // namespace

struct BrokerClient::Impl {
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
    *setup = broker::PrepareClientTls(ssl, host);
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
    std::lock_guard<std::mutex> l(mu);
    if (static_cast<int>(idle.size()) < opts.max_idle_connections) idle.push_back(std::move(c));
  }

  void DropIdle() {
    std::vector<std::unique_ptr<Conn>> dead;
    std::lock_guard<std::mutex> l(mu);
    dead.swap(idle);
  }

  Status Exchange(http::verb verb, const std::string& target, const std::string& body,
                  HttpResponse* resp);
};

Status BrokerClient::Impl::Exchange(http::verb verb, const std::string& target,
                                    const std::string& body, HttpResponse* resp) {
  const auto deadline = Clock::now() + opts.timeout;
  const std::string what = std::string(http::to_string(verb)) + " " + target;
  http::request<http::string_body> req{verb, path_prefix + target, 11};
  req.set(http::field::host, host_header);
  req.set(http::field::user_agent, "dualwrite/0.1");
  if (!opts.bearer_token.empty())
    req.set(http::field::authorization, "Bearer " + opts.bearer_token);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();

  // Set once a request was completely written on some attempt: from then on
  // a failure leaves the outcome unknown.
  bool sent = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // A failure that proves this attempt's request was not taken: Unavailable,
    // unless an earlier attempt's request was sent.
    auto not_taken = [&](const std::string& m) {
      if (sent)
        return Status::InDoubt(m + " (after an earlier attempt of " + what +
                               " was sent: it may have been applied)");
      return Status::Unavailable(m);
    };
    std::unique_ptr<Conn> c = TakeIdle();
    const bool reused = c != nullptr;
    if (!c) {
      c = std::make_unique<Conn>(tls.get());
      c->tcp().expires_at(deadline);
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
        ec = Handshake(*c, deadline, &setup);
        if (!setup.ok()) return setup;
        if (ec) {
          return not_taken("broker " + opts.url + ": TLS handshake failed: " +
                           broker::TlsErrorText(ec == beast::error::timeout
                                                    ? std::string("timed out")
                                                    : ec.message(),
                                                c->tls->native_handle()));
        }
      }
      opened.fetch_add(1, std::memory_order_relaxed);
    }
    const bool sent_before = sent;

    c->tcp().expires_at(deadline);
    beast::error_code ec =
        c->Run([&](auto h) { c->With([&](auto& s) { http::async_write(s, req, h); }); });
    if (ec) {
      if (ec == beast::error::timeout) {
        return Status::Timeout(what + ": broker did not take the request within " +
                               std::to_string(opts.timeout.count()) + " ms");
      }
      if (IsPeerRefusal(ec)) {
        return not_taken("broker " + opts.url + " refused the TLS connection: " + ec.message());
      }
      // A write that failed never delivered a whole request: on a reused
      // connection, the broker closed it while idle. Try a fresh one.
      if (reused && attempt == 0) continue;
      std::string m = what + ": sending to broker failed: " + ec.message();
      return sent ? Status::InDoubt(m) : Status::Unavailable(m);
    }
    sent = true;

    http::response_parser<http::string_body> parser;
    parser.body_limit(opts.max_response_bytes);
    c->tcp().expires_at(deadline);
    ec = c->Run(
        [&](auto h) { c->With([&](auto& s) { http::async_read(s, c->buffer, parser, h); }); });
    if (ec) {
      if (ec == beast::error::timeout) {
        return Status::Timeout(what + ": no response from broker within " +
                               std::to_string(opts.timeout.count()) +
                               " ms; it may or may not have applied the request");
      }
      if (!reused && !parser.got_some() && IsPeerRefusal(ec)) {
        sent = sent_before;
        return not_taken("broker " + opts.url + " refused the TLS connection: " + ec.message() +
                         " (is the client certificate missing or from another CA?)");
      }
      // The broker closed a reused connection without answering: it shut
      // the idle connection down as our request arrived. Once, retry fresh;
      // if the broker is really gone, the retry reports InDoubt.
      if (reused && attempt == 0 && !parser.got_some() &&
          (ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset)) {
        continue;
      }
      return Status::InDoubt(what + ": connection to broker lost before a response (" +
                             ec.message() + "); it may or may not have applied the request");
    }
    auto& res = parser.get();
    resp->status = res.result_int();
    resp->body = std::move(res.body());
    requests.fetch_add(1, std::memory_order_relaxed);
    if (c->tls && !reused) SaveSession(*c);
    if (res.keep_alive() && !res.need_eof() && c->buffer.size() == 0) PutIdle(std::move(c));
    return Status::OK();
  }
  return Status::InDoubt(what + ": broker closed the connection twice");  // not reached
}

BrokerClient::BrokerClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BrokerClient::~BrokerClient() = default;

Status BrokerClient::Create(const Options& opts, std::unique_ptr<BrokerClient>* out) {
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
      if (Status s = ReadTokenFile(token_file, &o.bearer_token); !s.ok()) return s;
    }
  }
  if (https) {
    Status s = broker::MakeClientTlsContext({o.ca_file, o.cert_file, o.key_file}, &impl->tls);
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
  out->reset(new BrokerClient(std::move(impl)));
  return Status::OK();
}

const std::string& BrokerClient::url() const { return impl_->opts.url; }

BrokerClient::Stats BrokerClient::stats() const {
  Stats s;
  s.requests = impl_->requests.load();
  s.connections_opened = impl_->opened.load();
  s.tls_resumed = impl_->resumed.load();
  std::lock_guard<std::mutex> l(impl_->mu);
  s.idle = impl_->idle.size();
  return s;
}

Status BrokerClient::Request(const std::string& method, const std::string& target,
                             const std::string& body, HttpResponse* resp) {
  http::verb v = http::string_to_verb(method);
  if (v == http::verb::unknown) return Status::InvalidArgument("unknown HTTP method " + method);
  if (target.empty() || target[0] != '/') {
    return Status::InvalidArgument("HTTP target must start with '/': " + target);
  }
  return impl_->Exchange(v, target, body, resp);
}

Status BrokerClient::Health() {
  HttpResponse r;
  Status s = impl_->Exchange(http::verb::get, api::Path(api::Route::kHealthz), "", &r);
  if (!s.ok()) return s;
  return StatusFromResponse(r, "GET /healthz");
}

Status BrokerClient::Publish(const std::string& topic, const OutMessage& m, uint64_t* offset,
                             bool* created) {
  Status s = CheckName("topic", topic);
  if (s.ok()) s = CheckMessage(m);
  std::string body;
  if (s.ok()) AppendMessageJson(m, false, &body);
  if (!s.ok()) return s;
  HttpResponse r;
  s = impl_->Exchange(http::verb::post, api::Path(api::Route::kMessages, topic), body, &r);
  if (s.ok()) s = StatusFromResponse(r, "publish to " + topic);
  if (!s.ok()) return s;
  if (created) *created = r.status == api::kHttpCreated;
  return ParseBody(r, "publish to " + topic,
                   [&](const json& j) { *offset = j.at(key::kOffset).get<uint64_t>(); });
}

Status BrokerClient::PublishBatch(const std::string& topic, const std::vector<OutMessage>& ms,
                                  std::vector<uint64_t>* offsets) {
  offsets->clear();
  Status s = CheckName("topic", topic);
  std::string body;
  if (s.ok()) s = MessagesBody(ms, false, &body);
  if (!s.ok()) return s;
  const std::string what = "batch publish to " + topic;
  HttpResponse r;
  s = impl_->Exchange(http::verb::post, api::Path(api::Route::kBatch, topic), body, &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok()) return s;
  s = ParseBody(
      r, what, [&](const json& j) { *offsets = j.at(key::kOffsets).get<std::vector<uint64_t>>(); });
  if (s.ok() && offsets->size() != ms.size()) {
    s = Status::IOError(what + ": broker returned " + std::to_string(offsets->size()) +
                        " offsets for " + std::to_string(ms.size()) + " messages");
  }
  return s;
}

Status BrokerClient::Read(const std::string& topic, uint64_t from, size_t limit,
                          std::vector<BrokerMessage>* out, uint64_t* next) {
  out->clear();
  Status s = CheckName("topic", topic);
  if (!s.ok()) return s;
  const std::string target = api::ReadPath(topic, from, limit);
  const std::string what = "read " + topic;
  HttpResponse r;
  s = impl_->Exchange(http::verb::get, target, "", &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok()) return s;
  return ParseBody(r, what, [&](const json& j) {
    for (const auto& m : j.at(key::kMessages)) {
      BrokerMessage bm;
      bm.offset = m.at(key::kOffset).get<uint64_t>();
      bm.id = m.at(key::kId).get<std::string>();
      bm.key = m.value(key::kKey, std::string());
      bm.payload = m.at(key::kPayload).get<std::string>();
      bm.ts_ms = m.value(key::kTs, int64_t{0});
      out->push_back(std::move(bm));
    }
    if (next) *next = j.at(key::kNext).get<uint64_t>();
  });
}

Status BrokerClient::Prepare(const std::string& gid, const std::vector<OutMessage>& ms) {
  Status s = CheckName("gid", gid);
  std::string body;
  if (s.ok()) s = MessagesBody(ms, true, &body);
  if (!s.ok()) return s;
  HttpResponse r;
  s = impl_->Exchange(http::verb::post, api::Path(api::Route::kPrepare, gid), body, &r);
  if (!s.ok()) return s;
  return StatusFromResponse(r, "broker prepare " + gid);
}

Status BrokerClient::Commit(const std::string& gid, std::vector<uint64_t>* offsets) {
  if (offsets) offsets->clear();
  Status s = CheckName("gid", gid);
  if (!s.ok()) return s;
  const std::string what = "broker commit " + gid;
  HttpResponse r;
  s = impl_->Exchange(http::verb::post, api::Path(api::Route::kCommit, gid), "", &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok() || !offsets) return s;
  return ParseBody(
      r, what, [&](const json& j) { *offsets = j.value(key::kOffsets, std::vector<uint64_t>()); });
}

Status BrokerClient::Abort(const std::string& gid) {
  Status s = CheckName("gid", gid);
  if (!s.ok()) return s;
  HttpResponse r;
  s = impl_->Exchange(http::verb::post, api::Path(api::Route::kAbort, gid), "", &r);
  if (!s.ok()) return s;
  return StatusFromResponse(r, "broker abort " + gid);
}

Status BrokerClient::ListPrepared(std::vector<BrokerPrepared>* out) {
  out->clear();
  const std::string what = "list broker transactions";
  HttpResponse r;
  Status s = impl_->Exchange(http::verb::get, api::Path(api::Route::kTransactions), "", &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok()) return s;
  s = ParseBody(r, what, [&](const json& j) {
    for (const auto& t : j.at(key::kTransactions)) {
      BrokerPrepared p;
      p.gid = t.at(key::kGid).get<std::string>();
      p.prepared_at = FromUnixMs(t.at(key::kPreparedAt).get<int64_t>());
      for (const auto& m : t.value(key::kMessages, json::array())) {
        OutMessage om;
        om.topic = m.value(key::kTopic, std::string());
        om.id = m.at(key::kId).get<std::string>();
        om.key = m.value(key::kKey, std::string());
        om.payload = m.at(key::kPayload).get<std::string>();
        p.messages.push_back(std::move(om));
      }
      out->push_back(std::move(p));
    }
  });
  if (!s.ok()) out->clear();
  return s;
}

}  // namespace dw
