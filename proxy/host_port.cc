#include "proxy/host_port.h"

#include <charconv>

namespace dw::proxy {

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Status ParseHostPort(const std::string& s, const std::string& default_host, const std::string& what,
                     HostPort* out) {
  HostPort hp;
  std::string port = s;
  if (size_t colon = s.rfind(':'); colon != std::string::npos) {
    hp.host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
      hp.host = hp.host.substr(1, hp.host.size() - 2);
    }
    if (hp.host.empty()) {
      return Status::InvalidArgument(what + " must be HOST:PORT or PORT, got '" + s + "'");
    }
  } else {
    hp.host = default_host;
  }
  unsigned v = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || v > 65535) {
    return Status::InvalidArgument(what + " port must be 0..65535, got '" + port + "'");
  }
  hp.port = static_cast<uint16_t>(v);
  *out = std::move(hp);
  return Status::OK();
}

}  // namespace dw::proxy
