#include "participants/broker_client.h"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/asio.h"
#include "common/names.h"

namespace dw {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Strict UTF-8 (what nlohmann's dump accepts): no overlong forms, no
// surrogates, nothing above U+10FFFF. NUL is a valid code point.
bool ValidUtf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) {
      return false;  // overlong
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

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

json MessageJson(const OutMessage& m, bool with_topic) {
  json j = {{"id", m.id}, {"key", m.key}, {"payload", m.payload}};
  if (with_topic) j["topic"] = m.topic;
  return j;
}

// The broker's reason for a non-2xx answer: its {"error"} (or a prepare's
// {"reason"}), else the start of the body.
std::string ErrorText(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    for (const char* k : {"error", "reason"}) {
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
  std::string m = what + ": HTTP " + std::to_string(r.status) + (err.empty() ? "" : ": " + err);
  switch (r.status) {
    case 404:
      return Status::NotFound(m);
    case 409:
      return Status::Aborted(m);
    case 401:
    case 403:
      return Status::FailedPrecondition(m);
    case 503:
      return Status::Unavailable(m);
    case 507:
      return Status::NoSpace(m);
    default:
      break;
  }
  if (r.status >= 400 && r.status < 500) return Status::InvalidArgument(m);
  return Status::IOError(m);
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

Status Dump(const json& j, std::string* out) {
  try {
    *out = j.dump();
  } catch (const json::exception& e) {  // unreachable after CheckMessage; kept as a guard
    return Status::InvalidArgument(std::string("cannot encode request: ") + e.what());
  }
  return Status::OK();
}

std::chrono::system_clock::time_point FromUnixMs(int64_t ms) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::milliseconds(ms)));
}

// One keep-alive connection. The io_context is private to it, so a request
// drives its own async operations (and their deadlines) with run() on the
// calling thread, and connections never contend.
struct Conn {
  asio::io_context ioc{1};
  beast::tcp_stream stream{ioc};  // after ioc: destroyed before it
  beast::flat_buffer buffer;

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
    if (!stream.socket().is_open()) return false;
    char b;
    ssize_t n = ::recv(stream.socket().native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

}  // namespace

struct BrokerClient::Impl {
  Options opts;
  std::string host_header;  // host[:port]
  std::string path_prefix;  // "" or "/base"
  tcp::resolver::results_type endpoints;

  std::mutex mu;
  std::vector<std::unique_ptr<Conn>> idle;  // guarded by mu
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> opened{0};

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
    std::unique_ptr<Conn> c = TakeIdle();
    const bool reused = c != nullptr;
    if (!c) {
      c = std::make_unique<Conn>();
      c->stream.expires_at(deadline);
      beast::error_code ec = c->Run([&](auto h) { c->stream.async_connect(endpoints, h); });
      if (ec) {
        DropIdle();  // the broker is probably gone: so are its idle connections
        std::string m =
            "broker " + opts.url + " unreachable: " +
            (ec == beast::error::timeout ? std::string("connect timed out") : ec.message());
        if (sent)
          return Status::InDoubt(m + " (after an earlier attempt of " + what +
                                 " was sent: it may have been applied)");
        return Status::Unavailable(m);
      }
      beast::error_code ignored;
      c->stream.socket().set_option(tcp::no_delay(true), ignored);
      opened.fetch_add(1, std::memory_order_relaxed);
    }

    c->stream.expires_at(deadline);
    beast::error_code ec = c->Run([&](auto h) { http::async_write(c->stream, req, h); });
    if (ec) {
      if (ec == beast::error::timeout) {
        return Status::Timeout(what + ": broker did not take the request within " +
                               std::to_string(opts.timeout.count()) + " ms");
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
    c->stream.expires_at(deadline);
    ec = c->Run([&](auto h) { http::async_read(c->stream, c->buffer, parser, h); });
    if (ec) {
      if (ec == beast::error::timeout) {
        return Status::Timeout(what + ": no response from broker within " +
                               std::to_string(opts.timeout.count()) +
                               " ms; it may or may not have applied the request");
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
  if (rest.starts_with("https://")) {
    return Status::InvalidArgument("broker URL " + opts.url + ": https is not supported");
  }
  if (rest.starts_with("http://")) rest = rest.substr(7);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string host, port = "80";
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
    return Status::InvalidArgument("bad broker URL '" + opts.url + "': want http://HOST:PORT");
  }
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
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
  Status s = impl_->Exchange(http::verb::get, "/healthz", "", &r);
  if (!s.ok()) return s;
  return StatusFromResponse(r, "GET /healthz");
}

Status BrokerClient::Publish(const std::string& topic, const OutMessage& m, uint64_t* offset,
                             bool* created) {
  Status s = CheckName("topic", topic);
  if (s.ok()) s = CheckMessage(m);
  std::string body;
  if (s.ok()) s = Dump(MessageJson(m, false), &body);
  if (!s.ok()) return s;
  const std::string target = "/topics/" + topic + "/messages";
  HttpResponse r;
  s = impl_->Exchange(http::verb::post, target, body, &r);
  if (s.ok()) s = StatusFromResponse(r, "publish to " + topic);
  if (!s.ok()) return s;
  if (created) *created = r.status == 201;
  return ParseBody(r, "publish to " + topic,
                   [&](const json& j) { *offset = j.at("offset").get<uint64_t>(); });
}

Status BrokerClient::PublishBatch(const std::string& topic, const std::vector<OutMessage>& ms,
                                  std::vector<uint64_t>* offsets) {
  offsets->clear();
  Status s = CheckName("topic", topic);
  json arr = json::array();
  for (const auto& m : ms) {
    if (!s.ok()) break;
    s = CheckMessage(m);
    arr.push_back(MessageJson(m, false));
  }
  std::string body;
  if (s.ok()) s = Dump(json{{"messages", std::move(arr)}}, &body);
  if (!s.ok()) return s;
  const std::string what = "batch publish to " + topic;
  HttpResponse r;
  s = impl_->Exchange(http::verb::post, "/topics/" + topic + "/batch", body, &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok()) return s;
  s = ParseBody(r, what,
                [&](const json& j) { *offsets = j.at("offsets").get<std::vector<uint64_t>>(); });
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
  const std::string target = "/topics/" + topic + "/messages?from=" + std::to_string(from) +
                             "&limit=" + std::to_string(limit);
  const std::string what = "read " + topic;
  HttpResponse r;
  s = impl_->Exchange(http::verb::get, target, "", &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok()) return s;
  return ParseBody(r, what, [&](const json& j) {
    for (const auto& m : j.at("messages")) {
      BrokerMessage bm;
      bm.offset = m.at("offset").get<uint64_t>();
      bm.id = m.at("id").get<std::string>();
      bm.key = m.value("key", std::string());
      bm.payload = m.at("payload").get<std::string>();
      bm.ts_ms = m.value("ts", int64_t{0});
      out->push_back(std::move(bm));
    }
    if (next) *next = j.at("next").get<uint64_t>();
  });
}

Status BrokerClient::Prepare(const std::string& gid, const std::vector<OutMessage>& ms) {
  Status s = CheckName("gid", gid);
  json arr = json::array();
  for (const auto& m : ms) {
    if (!s.ok()) break;
    s = CheckName("topic", m.topic);
    if (s.ok()) s = CheckMessage(m);
    arr.push_back(MessageJson(m, true));
  }
  std::string body;
  if (s.ok()) s = Dump(json{{"messages", std::move(arr)}}, &body);
  if (!s.ok()) return s;
  HttpResponse r;
  s = impl_->Exchange(http::verb::post, "/transactions/" + gid + "/prepare", body, &r);
  if (!s.ok()) return s;
  return StatusFromResponse(r, "broker prepare " + gid);
}

Status BrokerClient::Commit(const std::string& gid, std::vector<uint64_t>* offsets) {
  if (offsets) offsets->clear();
  Status s = CheckName("gid", gid);
  if (!s.ok()) return s;
  const std::string what = "broker commit " + gid;
  HttpResponse r;
  s = impl_->Exchange(http::verb::post, "/transactions/" + gid + "/commit", "", &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok() || !offsets) return s;
  return ParseBody(r, what,
                   [&](const json& j) { *offsets = j.value("offsets", std::vector<uint64_t>()); });
}

Status BrokerClient::Abort(const std::string& gid) {
  Status s = CheckName("gid", gid);
  if (!s.ok()) return s;
  HttpResponse r;
  s = impl_->Exchange(http::verb::post, "/transactions/" + gid + "/abort", "", &r);
  if (!s.ok()) return s;
  return StatusFromResponse(r, "broker abort " + gid);
}

Status BrokerClient::ListPrepared(std::vector<BrokerPrepared>* out) {
  out->clear();
  const std::string what = "list broker transactions";
  HttpResponse r;
  Status s = impl_->Exchange(http::verb::get, "/transactions?state=prepared", "", &r);
  if (s.ok()) s = StatusFromResponse(r, what);
  if (!s.ok()) return s;
  s = ParseBody(r, what, [&](const json& j) {
    for (const auto& t : j.at("transactions")) {
      BrokerPrepared p;
      p.gid = t.at("gid").get<std::string>();
      p.prepared_at = FromUnixMs(t.at("prepared_at").get<int64_t>());
      for (const auto& m : t.value("messages", json::array())) {
        OutMessage om;
        om.topic = m.value("topic", std::string());
        om.id = m.at("id").get<std::string>();
        om.key = m.value("key", std::string());
        om.payload = m.at("payload").get<std::string>();
        p.messages.push_back(std::move(om));
      }
      out->push_back(std::move(p));
    }
  });
  if (!s.ok()) out->clear();
  return s;
}

}  // namespace dw
