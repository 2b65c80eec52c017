#include "broker/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/asio.h"  // before any other Asio header (see common/asio.h)

#include <boost/asio/ssl.hpp>

namespace dw::broker {
namespace {

namespace ssl = boost::asio::ssl;

// A readable regular file, checked first so "no such file" is not reported
// as an OpenSSL parsing error.
Status CheckReadable(const char* what, const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(what + (" " + path) + ": " + std::strerror(errno));
  return Status::OK();
}

Status Fail(const char* what, const std::string& path, const boost::system::error_code& ec) {
  return Status::InvalidArgument(what + (" " + path) + ": " + ec.message());
}

// What both ends share: TLS 1.2+, and a missing close_notify is plain EOF
// (see the header for why).
Status BaseContext(ssl::context::method m, std::shared_ptr<ssl::context>* out) {
  auto ctx = std::make_shared<ssl::context>(m);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_compression);
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return Status::InvalidArgument("this OpenSSL cannot restrict TLS to version 1.2 or newer");
  }
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  *out = std::move(ctx);
  return Status::OK();
}

// Certificate chain + private key, checked to belong together.
Status LoadIdentity(ssl::context& ctx, const std::string& cert, const std::string& key,
                    const char* cert_what, const char* key_what) {
  if (Status s = CheckReadable(cert_what, cert); !s.ok()) return s;
  if (Status s = CheckReadable(key_what, key); !s.ok()) return s;
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert, ec);
  if (ec) return Fail(cert_what, cert, ec);
  ctx.use_private_key_file(key, ssl::context::pem, ec);
  if (ec && ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) {
    return Status::InvalidArgument(std::string(key_what) + " " + key + " does not match " +
                                   cert_what + " " + cert);
  }
  if (ec) return Fail(key_what, key, ec);
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(std::string(key_what) + " " + key + " does not match " +
                                   cert_what + " " + cert);
  }
  return Status::OK();
}

// A CA bundle to verify peers with; refuses a file with no certificate.
Status LoadCa(ssl::context& ctx, const char* what, const std::string& path) {
  if (Status s = CheckReadable(what, path); !s.ok()) return s;
  boost::system::error_code ec;
  ctx.load_verify_file(path, ec);
  if (ec) return Fail(what, path, ec);
  return Status::OK();
}

}  // namespace

Status MakeServerTlsContext(const TlsServerFiles& f, std::shared_ptr<ssl::context>* out) {
  if (f.cert_file.empty() || f.key_file.empty()) {
    return Status::InvalidArgument(
        "TLS needs both a certificate and its private key (--tls-cert and --tls-key)");
  }
  std::shared_ptr<ssl::context> ctx;
  if (Status s = BaseContext(ssl::context::tls_server, &ctx); !s.ok()) return s;
  if (Status s = LoadIdentity(*ctx, f.cert_file, f.key_file, "--tls-cert", "--tls-key"); !s.ok()) {
    return s;
  }
  if (!f.client_ca_file.empty()) {
    if (Status s = LoadCa(*ctx, "--tls-client-ca", f.client_ca_file); !s.ok()) return s;
    // Tell clients which CA we accept (what `openssl s_client` shows), so a
    // client holding several certificates can pick the right one.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(f.client_ca_file.c_str());
    if (names) SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    // With peer verification on, OpenSSL refuses to resume a session that
    // has no session id context ("session id context uninitialized"): set
    // one, so pooled clients that reconnect can resume instead of failing.
    static const unsigned char kSidCtx[] = "dualwrite-broker";
    SSL_CTX_set_session_id_context(ctx->native_handle(), kSidCtx, sizeof kSidCtx - 1);
  }
  ERR_clear_error();
  *out = std::move(ctx);
  return Status::OK();
}

Status MakeClientTlsContext(const TlsClientFiles& f, std::shared_ptr<ssl::context>* out) {
  if (f.ca_file.empty()) {
    return Status::InvalidArgument(
        "an https:// broker needs a CA file to verify it with (--broker-ca or "
        "DUALWRITE_BROKER_CA)");
  }
  if (f.cert_file.empty() != f.key_file.empty()) {
    return Status::InvalidArgument(
        "a broker client certificate needs its private key and the reverse (--broker-cert with "
        "--broker-key, or DUALWRITE_BROKER_CERT with DUALWRITE_BROKER_KEY)");
  }
  std::shared_ptr<ssl::context> ctx;
  if (Status s = BaseContext(ssl::context::tls_client, &ctx); !s.ok()) return s;
  if (Status s = LoadCa(*ctx, "broker CA file", f.ca_file); !s.ok()) return s;
  ctx->set_verify_mode(ssl::verify_peer);
  if (!f.cert_file.empty()) {
    Status s = LoadIdentity(*ctx, f.cert_file, f.key_file, "broker client certificate",
                            "broker client key");
    if (!s.ok()) return s;
  }
  ERR_clear_error();
  *out = std::move(ctx);
  return Status::OK();
}

Status PrepareClientTls(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      return Status::InvalidArgument("cannot verify against IP address " + host);
    }
    return Status::OK();
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return Status::InvalidArgument("cannot send server name " + host);
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl, host.c_str()) != 1) {
    return Status::InvalidArgument("cannot verify against host name " + host);
  }
  return Status::OK();
}

std::string TlsErrorText(const std::string& what, SSL* ssl) {
  std::string m = what;
  if (ssl) {
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) m += std::string(" (") + X509_verify_cert_error_string(v) + ")";
  }
  return m;
}

}  // namespace dw::broker
