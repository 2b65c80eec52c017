// A minimal HTTP/1.1 GET with a deadline, for probing the broker (`/healthz`
// while waiting for it to start, `/transactions?state=prepared` for `env`).
// The environment deliberately does not depend on the participants library's
// BrokerClient: env sits below it in the dependency order.
//
// It honours the same credentials as BrokerClient, from the environment
// (see participants/broker_client.h): an https:// URL is verified against
// $DUALWRITE_BROKER_CA (required) by host name or IP address, offers the
// client certificate $DUALWRITE_BROKER_CERT + $DUALWRITE_BROKER_KEY when
// set, and the token in $DUALWRITE_BROKER_TOKEN_FILE is sent as a bearer
// token. (The embedded broker of `dualwrite up` is plain HTTP without a
// token, for which none of this changes anything.)
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace dw::env {

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET `url``target`, url = http[s]://HOST:PORT. Unavailable when the
// connection is refused or the TLS handshake fails, Timeout when no complete
// response arrived before `timeout`, InvalidArgument for a bad URL or
// unusable credential files. Any HTTP status (also 4xx/5xx) is OK here: the
// caller reads reply->status.
Status HttpGet(const std::string& url, const std::string& target, std::chrono::milliseconds timeout,
               HttpReply* reply);

// GET http://127.0.0.1:`port``target` (the embedded broker).
Status HttpGet(int port, const std::string& target, std::chrono::milliseconds timeout,
               HttpReply* reply);

}  // namespace dw::env
