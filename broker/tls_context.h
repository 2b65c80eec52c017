// TLS for the broker's two ends: the OpenSSL contexts of `broker serve
// --tls-cert` (the server) and of BrokerClient for https:// URLs (the
// client), built from PEM files. See docs/security.md.
//
// Both ends: TLS 1.2 or newer only; a peer that closes TCP without a TLS
// close_notify is an ordinary EOF (SSL_OP_IGNORE_UNEXPECTED_EOF), because
// HTTP frames every message itself (Content-Length / chunked) and a
// truncated message is still caught by the HTTP parser; this keeps the
// "connection closed" handling of both ends the same as over plain TCP.
//
// Server: presents cert_file (a chain, leaf first) with key_file. With
// client_ca_file it REQUIRES a client certificate that chains to that CA
// (mutual TLS): a client without one, or with one from another CA, fails
// the handshake and never reaches the HTTP layer.
//
// Client: verifies the server's chain against ca_file (required: no system
// trust store fallback, since these brokers use throwaway CAs), and the
// server's name against the URL's host (PrepareClientTls: DNS name for
// names, IP address SAN for IP literals). cert_file + key_file: the client
// certificate offered for mutual TLS.
//
// Errors (all InvalidArgument, one line, naming the file): unreadable file,
// not PEM / no certificate in it, a key that does not match its certificate,
// a certificate without its key (or the reverse).
#pragma once

#include <memory>
#include <string>

#include <openssl/types.h>

#include "common/status.h"

namespace boost::asio::ssl {
class context;
}

namespace dw::broker {

struct TlsServerFiles {
  std::string cert_file;  // empty: plain HTTP (then the others must be empty too)
  std::string key_file;
  std::string client_ca_file;  // non-empty: mutual TLS
  bool enabled() const {
    return !cert_file.empty() || !key_file.empty() || !client_ca_file.empty();
  }
};

struct TlsClientFiles {
  std::string ca_file;    // required
  std::string cert_file;  // optional; needs key_file
  std::string key_file;
};

Status MakeServerTlsContext(const TlsServerFiles& f,
                            std::shared_ptr<boost::asio::ssl::context>* out);
Status MakeClientTlsContext(const TlsClientFiles& f,
                            std::shared_ptr<boost::asio::ssl::context>* out);

// Per client connection, before its handshake: SNI (names only: RFC 6066
// forbids IP literals there) and the identity the server certificate must
// carry in its subjectAltName (DNS name, or IP address for an IP literal).
Status PrepareClientTls(SSL* ssl, const std::string& host);

// A failed handshake's reason, with the certificate check's own verdict
// appended when that is what failed (e.g. "certificate verify failed
// (unable to get local issuer certificate)"). `ssl` may be null.
std::string TlsErrorText(const std::string& what, SSL* ssl);

}  // namespace dw::broker
