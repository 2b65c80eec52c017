// ProxyState: what one proxy's listener, sessions and control endpoint share -
// the current faults, the upstream's addresses, the counters behind
// ProxyStats, and the registry of open sessions (so `reset` can reach them).
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/asio.h"
#include "proxy/faults.h"
#include "proxy/stats.h"

namespace dw::proxy {

class Session;

class ProxyState {
 public:
  ProxyState(std::vector<tcp::endpoint> upstream, const ProxyFaults& faults)
      : upstream_(std::move(upstream)), faults_(faults) {}

  const std::vector<tcp::endpoint>& upstream() const { return upstream_; }

  // Sessions read the faults once per chunk, so a change applies to the
  // next chunk of every connection.
  ProxyFaults faults() const;
  void set_faults(const ProxyFaults& f);

  // The registry holds weak references: a session lives only as long as its
  // pending operations, and leaves the registry from its destructor.
  uint64_t Register(const std::shared_ptr<Session>& s);
  void Unregister(uint64_t id);
  std::vector<std::shared_ptr<Session>> OpenSessions() const;

  ProxyStats stats() const;

  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> resets{0};
  std::atomic<uint64_t> upstream_failures{0};
  std::atomic<uint64_t> bytes_up{0};
  std::atomic<uint64_t> bytes_down{0};
  std::atomic<uint64_t> bytes_dropped{0};

 private:
  const std::vector<tcp::endpoint> upstream_;
  mutable std::mutex mu_;
  ProxyFaults faults_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::weak_ptr<Session>> sessions_;
};

}  // namespace dw::proxy
