#include "env/http_get.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>

#include "common/asio.h"  // before the other Asio headers (see common/asio.h)

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

namespace dw::env {
namespace {

namespace ssl = boost::asio::ssl;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The client side of broker/tls_context.cc, kept to what a
// probe needs (env may not depend on participants): TLS 1.2+, a missing
// close_notify is EOF, the CA is required, the client certificate optional.
Status ClientContext(std::unique_ptr<ssl::context>* out) {
  const std::string ca = Env("DUALWRITE_BROKER_CA");
  const std::string cert = Env("DUALWRITE_BROKER_CERT");
  const std::string key = Env("DUALWRITE_BROKER_KEY");
  if (ca.empty()) {
    return Status::InvalidArgument("an https:// broker needs DUALWRITE_BROKER_CA (or --broker-ca)");
  }
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  boost::system::error_code ec;
  ctx->load_verify_file(ca, ec);
  if (ec) return Status::InvalidArgument("broker CA file " + ca + ": " + ec.message());
  ctx->set_verify_mode(ssl::verify_peer);
  if (!cert.empty() || !key.empty()) {
    if (cert.empty() || key.empty()) {
      return Status::InvalidArgument("DUALWRITE_BROKER_CERT and DUALWRITE_BROKER_KEY go together");
    }
    ctx->use_certificate_chain_file(cert, ec);
    if (ec)
      return Status::InvalidArgument("broker client certificate " + cert + ": " + ec.message());
    ctx->use_private_key_file(key, ssl::context::pem, ec);
    if (ec) return Status::InvalidArgument("broker client key " + key + ": " + ec.message());
  }
  *out = std::move(ctx);
  return Status::OK();
}

// SNI and the name or IP the server certificate must carry.
void ExpectPeer(SSL* ssl, const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
  }
}

struct Url {
  bool tls = false;
  std::string host, port, authority;
};

Status ParseUrl(const std::string& url, Url* u) {
  std::string rest = url;
  if (rest.starts_with("https://")) {
    u->tls = true;
    rest = rest.substr(8);
  } else if (rest.starts_with("http://")) {
    rest = rest.substr(7);
  } else {
    return Status::InvalidArgument("bad broker URL '" + url + "': want http[s]://HOST:PORT");
  }
  u->authority = rest.substr(0, rest.find('/'));
  u->port = u->tls ? "443" : "80";
  const std::string& a = u->authority;
  size_t colon = a.rfind(':');
  if (a.starts_with("[")) {
    size_t close = a.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("bad broker URL " + url);
    u->host = a.substr(1, close - 1);
    if (colon != std::string::npos && colon > close) u->port = a.substr(colon + 1);
  } else {
    u->host = a.substr(0, colon);
    if (colon != std::string::npos) u->port = a.substr(colon + 1);
  }
  if (u->host.empty() || u->port.empty()) return Status::InvalidArgument("bad broker URL " + url);
  return Status::OK();
}

}  // namespace

Status HttpGet(const std::string& url, const std::string& target, std::chrono::milliseconds timeout,
               HttpReply* reply) {
  Url u;
  if (Status s = ParseUrl(url, &u); !s.ok()) return s;
  std::unique_ptr<ssl::context> ctx;
  if (u.tls) {
    if (Status s = ClientContext(&ctx); !s.ok()) return s;
  }
  // An unreadable token file sends no token rather than failing the probe:
  // `up` waits on this probe, and BrokerClient reports the file itself.
  std::string token;
  if (std::ifstream in(Env("DUALWRITE_BROKER_TOKEN_FILE")); in) {
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  }

  // Asynchronous operations on a private io_context: Beast's deadlines only
  // apply to async operations (see API-FACTS).
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  if (ctx) {
    tls.emplace(ioc, *ctx);
    ExpectPeer(tls->native_handle(), u.host);
  } else {
    plain.emplace(ioc);
  }
  beast::tcp_stream& tcp = tls ? tls->next_layer() : *plain;
  beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, u.authority);
  req.set(http::field::connection, "close");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  http::response<http::string_body> res;
  beast::error_code failure;
  const char* failed_at = nullptr;

  auto fail = [&](const char* what, beast::error_code ec) {
    failure = ec;
    failed_at = what;
  };
  // The exchange itself, over whichever stream the URL asked for.
  auto exchange = [&](auto& stream) {
    http::async_write(stream, req, [&](beast::error_code ec, size_t) {
      if (ec) return fail("write", ec);
      http::async_read(stream, buffer, res, [&](beast::error_code ec, size_t) {
        if (ec) return fail("read", ec);
      });
    });
  };
  tcp::resolver resolver(ioc);
  beast::error_code rec;
  auto endpoints = resolver.resolve(u.host, u.port, rec);
  if (rec) return Status::Unavailable("GET " + url + target + ": cannot resolve " + u.host);
  tcp.expires_after(timeout);
  tcp.async_connect(endpoints, [&](beast::error_code ec, const tcp::endpoint&) {
    if (ec) return fail("connect", ec);
    if (!tls) return exchange(*plain);
    tls->async_handshake(ssl::stream_base::client, [&](beast::error_code ec) {
      if (ec) return fail("TLS handshake", ec);
      exchange(*tls);
    });
  });
  ioc.run();
  beast::error_code ignored;
  tcp.socket().shutdown(tcp::socket::shutdown_both, ignored);

  std::string where = "GET " + url + target;
  if (failed_at) {
    if (failure == beast::error::timeout) return Status::Timeout(where + ": no answer in time");
    if (failure == asio::error::connection_refused) {
      return Status::Unavailable(where + ": connection refused");
    }
    return Status::Unavailable(where + ": " + failed_at + ": " + failure.message());
  }
  reply->status = static_cast<int>(res.result_int());
  reply->body = std::move(res.body());
  return Status::OK();
}

Status HttpGet(int port, const std::string& target, std::chrono::milliseconds timeout,
               HttpReply* reply) {
  return HttpGet("http://127.0.0.1:" + std::to_string(port), target, timeout, reply);
}

}  // namespace dw::env
