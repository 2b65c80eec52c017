// A minimal HTTP/1.1 GET with a deadline, for probing the broker (`/healthz`
// while waiting for it to start, `/transactions?state=prepared` for `env`).
// The environment deliberately does not depend on the participants library's
// BrokerClient: env sits below it in the dependency order.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace dw::env {

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET http://127.0.0.1:`port``target`. Unavailable when the connection is
// refused, Timeout when no complete response arrived before `timeout`.
// Any HTTP status (also 4xx/5xx) is OK here: the caller reads reply->status.
Status HttpGet(int port, const std::string& target, std::chrono::milliseconds timeout,
               HttpReply* reply);

}  // namespace dw::env
