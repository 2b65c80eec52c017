#include "proxy/stats.h"

#include <nlohmann/json.hpp>

namespace dw::proxy {

std::string StatsToJson(const ProxyStats& s) {
  return nlohmann::json{{"connections_accepted", s.connections_accepted},
                        {"connections_open", s.connections_open},
                        {"connections_reset", s.connections_reset},
                        {"upstream_connect_failures", s.upstream_connect_failures},
                        {"bytes_up", s.bytes_up},
                        {"bytes_down", s.bytes_down},
                        {"bytes_dropped", s.bytes_dropped}}
      .dump();
}

}  // namespace dw::proxy
