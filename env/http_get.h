// A minimal HTTP/1.1 GET with a deadline, for probing the broker (`/healthz`
// while waiting for it to start, `/transactions?state=prepared` for `env`).
// The environment deliberately does not depend on the participants library's
// BrokerClient: env sits below it in the dependency order, next to it on the
// broker's wire library (broker/CMakeLists.txt).
//
// It goes through the same transport as BrokerClient
// (broker/http_transport.h): the same URL rules, deadline, TLS checks and
// DUALWRITE_BROKER_* credentials (the embedded broker of `dualwrite up` is
// plain HTTP without a token, for which none of this changes anything),
// with one connection per probe and one difference: an unreadable token
// file sends no token instead of failing the probe.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace dw::env {

struct HttpReply {
  int status = 0;
  std::string body;
};

// A client's TLS credentials for an https:// URL (HttpTransport's files: an
// empty one is taken from its DUALWRITE_BROKER_* variable, as for every
// client). Ignored for http:// URLs.
struct TlsFiles {
  std::string ca_file;    // PEM CA(s) the broker's certificate must chain to
  std::string cert_file;  // PEM client certificate, for a broker under mutual TLS
  std::string key_file;   // its private key
};

// GET `url``target`, url = http[s]://HOST:PORT (an https one with `tls`'s
// credentials). Unavailable when no connection was made (refused, not made
// before `timeout`, TLS handshake failed) or it was lost before the answer,
// Timeout when the answer did not arrive before `timeout`, InvalidArgument
// for a bad URL or unusable credential files. Any HTTP status (also
// 4xx/5xx) is OK here: the caller reads reply->status.
Status HttpGet(const std::string& url, const std::string& target, std::chrono::milliseconds timeout,
               HttpReply* reply, const TlsFiles& tls = {});

// GET http://127.0.0.1:`port``target` (the embedded broker).
Status HttpGet(int port, const std::string& target, std::chrono::milliseconds timeout,
               HttpReply* reply);

}  // namespace dw::env
