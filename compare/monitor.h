// Monitor: what a failure cell watches while it runs, each on its own
// connection and thread so a stalled one (a lock wait, a dead server) does
// not blind the others:
//   in doubt   prepared transactions at Postgres (this database) and at the
//              broker, every 100 ms: the most at once and the oldest age;
//   hot row    a probe that reserves product 1 (UPDATE stock SET reserved =
//              reserved + 1 WHERE product = 1) every 100 ms and records its
//              longest wait (a prepared transaction that reserved the same
//              product holds the row lock until it is resolved);
//   backlog    committed orders not yet readable at the broker, every 250 ms
//              (orders rows - messages the BrokerTail has read).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace dw::compare {

class BrokerTail;

// Creates the stock table with product 1 (the probe's row) in the cell's
// database; the load's --hot-rows fills in the other products.
Status EnsureHotRow(const std::string& dsn);

class Monitor {
 public:
  struct Options {
    std::string dsn;
    std::string broker_url;            // empty: no broker to watch
    const BrokerTail* tail = nullptr;  // for the backlog; null: no backlog
  };
  explicit Monitor(Options opts);
  ~Monitor();  // stops

  void Start();
  void Stop();

  struct InDoubt {
    uint64_t count = 0;    // Postgres + broker
    double max_age_s = 0;  // the oldest of them
    bool known = false;    // both parties answered
  };
  InDoubt Current() const;
  uint64_t max_in_doubt() const;
  double max_in_doubt_age_s() const;
  double probe_max_wait_ms() const;                          // includes a wait still in progress
  std::vector<std::pair<int64_t, int64_t>> backlog() const;  // (unix µs, rows)

 private:
  void InDoubtLoop();
  void ProbeLoop();
  void BacklogLoop();

  Options opts_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  InDoubt current_;
  uint64_t max_in_doubt_ = 0;
  double max_age_s_ = 0;
  double probe_max_ms_ = 0;
  int64_t probe_started_us_ = 0;  // 0: no probe in flight
  std::vector<std::pair<int64_t, int64_t>> backlog_;
};

}  // namespace dw::compare
