// ProxyFaults: what the fault proxy (proxy.h) does to the traffic it carries,
// changed at run time through the control endpoint (control.h), a faults
// file, or Proxy::SetFaults.
//
// JSON form (GET /faults answers all of it; POST /faults, a faults file and
// MergeFaultsJson take any subset and change only what they name):
//   {"up":   {"latency_ms": 50, "jitter_ms": 10, "bandwidth_bytes_per_s": 0},
//    "down": {"latency_ms": 0,  "jitter_ms": 0,  "bandwidth_bytes_per_s": 100000},
//    "blackhole": false, "reset": false, "refuse": false}
// "up" is client -> upstream, "down" is upstream -> client.
//
//   latency_ms + jitter_ms  every chunk read in that direction is held for
//                           latency + uniform [0, jitter] before it is written
//                           on; chunks never overtake each other, so byte order
//                           within a direction is kept (a chunk whose jitter
//                           came out shorter waits for the one before it).
//   bandwidth_bytes_per_s   chunks are paced so that direction carries at
//                           most that many bytes per second (0: unlimited).
//   blackhole               a partition: bytes are read and dropped, nothing
//                           is forwarded or answered either way, new
//                           connections are accepted and never connected
//                           upstream. A connection that lost bytes stays
//                           black after the blackhole is lifted (see session.h).
//   reset                   every open connection is reset now (RST to both
//                           ends: SO_LINGER 0 + close), and so is every new one
//                           while it stays true.
//   refuse                  the listening socket is closed, so connecting
//                           fails (ECONNREFUSED); it is reopened on the same
//                           port when refuse goes back to false. Open
//                           connections are not touched.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace dw::proxy {

struct DirectionFaults {
  double latency_ms = 0;
  double jitter_ms = 0;
  uint64_t bandwidth_bytes_per_s = 0;  // 0: unlimited

  bool operator==(const DirectionFaults&) const = default;
};

struct ProxyFaults {
  DirectionFaults up;    // client -> upstream
  DirectionFaults down;  // upstream -> client
  bool blackhole = false;
  bool reset = false;
  bool refuse = false;

  bool operator==(const ProxyFaults&) const = default;
};

// Latency and jitter in [0, 3600000] ms, bandwidth in [0, 10^12] B/s.
Status ValidateFaults(const ProxyFaults& f);

// The full JSON form above.
std::string FaultsToJson(const ProxyFaults& f);

// Parses `json` (an object with any subset of the keys above) and applies it
// on top of *f. Unknown keys, wrong types and out-of-range values are
// InvalidArgument and leave *f unchanged: a typo in a fault must not pass
// silently as "no fault".
Status MergeFaultsJson(std::string_view json, ProxyFaults* f);

}  // namespace dw::proxy
