// "HOST:PORT" as the proxy's flags spell addresses.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace dw::proxy {

struct HostPort {
  std::string host;
  uint16_t port = 0;

  std::string ToString() const;  // "[v6]:port" for an IPv6 host
};

// "HOST:PORT", "[V6]:PORT", or just "PORT" (then the host is `default_host`:
// servers bind to 127.0.0.1 unless told otherwise). The port must be
// 0..65535 in plain decimal. InvalidArgument otherwise, with `what` (e.g.
// "--listen") in the message.
Status ParseHostPort(const std::string& s, const std::string& default_host, const std::string& what,
                     HostPort* out);

}  // namespace dw::proxy
