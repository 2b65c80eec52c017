// BrokerTail: a consumer that reads the topic as it grows, the way a real
// subscriber would, and stamps each message with the moment it was first
// readable. End-to-end latency = that moment - the order's placed_at_us (in
// the payload, set when the business operation started), for 2PC and the
// outbox alike. It polls with a 1 ms pause when caught up, so the figure
// includes up to ~1 ms of polling delay on top of the real one.
//
// Only keys (order ids) inside [min_id, max_id] are counted, so cells can
// share a broker. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/histogram.h"

namespace dw::compare {

class BrokerTail {
 public:
  BrokerTail(std::string url, std::string topic, int64_t min_id, int64_t max_id);
  ~BrokerTail();  // stops the thread

  void Start();
  void Stop();

  uint64_t unique() const;     // distinct order ids read
  uint64_t redundant() const;  // messages whose key was already read (should stay 0)
  Histogram e2e() const;       // µs
  bool SeenAll(const std::vector<int64_t>& ids) const;
  // Messages read so far whose placed_at_us lies in [from_us, to_us).
  std::vector<std::pair<int64_t, int64_t>> Arrivals() const;  // (placed_at_us, read_at_us)

 private:
  void Loop();

  const std::string url_, topic_;
  const int64_t min_id_, max_id_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::unordered_map<int64_t, uint32_t> seen_;
  uint64_t redundant_ = 0;
  Histogram e2e_;
  std::vector<std::pair<int64_t, int64_t>> arrivals_;
};

}  // namespace dw::compare
