// Metrics: what GET /metrics exposes, in the Prometheus text format (0.0.4).
//
//   dw_broker_requests_total{route,code}            counter
//   dw_broker_request_duration_seconds{route}       histogram (request fully
//       read -> response handed to the socket; includes injected latency and
//       the wait for durability)
//   dw_broker_fsyncs_total, dw_broker_duplicates_total, dw_broker_bytes_written_total,
//   dw_broker_records_written_total, dw_broker_write_batches_total,
//   dw_broker_write_errors_total                     counters (the writer)
//   dw_broker_tls_handshake_failures_total           counter (TLS handshakes refused
//       or failed: no/untrusted client certificate, plain HTTP, timeout)
//   dw_broker_records_replayed, dw_broker_log_bytes  gauges
//   dw_broker_prepared_transactions, dw_broker_topic_messages{topic}
//                                                    gauges (from the Store)
// Thread-safe: counters are atomics, per-route data sits behind a mutex.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "broker/store.h"

namespace dw::broker {

class Metrics {
 public:
  void ObserveRequest(const std::string& route, int code, double seconds);

  std::atomic<uint64_t> fsyncs{0};
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> records_written{0};
  std::atomic<uint64_t> write_batches{0};
  std::atomic<uint64_t> write_errors{0};
  std::atomic<uint64_t> duplicates{0};  // publishes deduplicated by message id
  std::atomic<uint64_t> records_replayed{0};
  std::atomic<uint64_t> log_bytes{0};
  std::atomic<uint64_t> tls_handshake_failures{0};  // the HTTP server (TLS mode)

  std::string Render(const Store::Stats& store) const;

 private:
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  struct Route {
    std::map<int, uint64_t> codes;
    std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Route> routes_;
};

}  // namespace dw::broker
