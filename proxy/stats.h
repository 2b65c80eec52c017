// ProxyStats: what GET /stats reports about one proxy since it started.
#pragma once

#include <cstdint>
#include <string>

namespace dw::proxy {

struct ProxyStats {
  uint64_t connections_accepted = 0;       // every accepted connection, reset or not
  uint64_t connections_open = 0;           // sessions alive now
  uint64_t connections_reset = 0;          // reset by the `reset` fault (at once or at accept)
  uint64_t upstream_connect_failures = 0;  // the upstream refused or was unreachable
  uint64_t bytes_up = 0;                   // written to the upstream
  uint64_t bytes_down = 0;                 // written to clients
  uint64_t bytes_dropped = 0;              // swallowed by the blackhole (both ways)
};

// {"connections_accepted": ..., ...}: every field above, same names.
std::string StatsToJson(const ProxyStats& s);

}  // namespace dw::proxy
