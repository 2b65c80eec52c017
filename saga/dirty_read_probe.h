// DirtyReadProbe: what a saga lets other transactions see. A saga commits its
// order locally as 'pending' before the pivot publish decides it (T1), so
// every other session can read an order whose OrderPlaced does not exist yet
// and which may still be cancelled: the saga's lack of isolation, the price of
// taking no lock across systems. The probe is such a session. It polls the
// open sagas at an interval while `saga run` places orders, remembers every
// order it saw pending, and at the end reads how each of them ended.
//
// It reads `saga_log WHERE state = 'pending'`, which the partial index
// saga_log_open serves (only the open sagas are visited, however many orders
// the run has placed); a saga's log row is 'pending' exactly while its order is
// (T1 writes both, T3 and the compensation change both in one transaction).
//
// Its cost is one index scan and one round trip per poll on its own
// connection, charged to the run that asks for it (compare polls every
// 10 ms in every saga cell, so the saga's figures include a reader). Thread-safe: Start and Finish from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dw::saga {

struct DirtyReadReport {
  int64_t interval_ms = 0;  // the pause between two polls
  uint64_t polls = 0;
  uint64_t orders_seen_pending = 0;  // distinct orders read while pending
  // How those orders ended, read after the run: placed (the reader saw an
  // order early), cancelled (the reader saw an order that never happened), or
  // still pending (left to recovery).
  uint64_t then_placed = 0;
  uint64_t then_cancelled = 0;
  uint64_t still_pending = 0;
  uint64_t errors = 0;  // polls that failed (the run goes on)

  // {interval_ms, polls, orders_seen_pending, then_placed, then_cancelled,
  //  still_pending, errors}
  nlohmann::json ToJson() const;
};

class DirtyReadProbe {
 public:
  DirtyReadProbe(std::string dsn, std::chrono::milliseconds interval);
  ~DirtyReadProbe();  // stops the poller if Finish was not called
  DirtyReadProbe(const DirtyReadProbe&) = delete;
  DirtyReadProbe& operator=(const DirtyReadProbe&) = delete;

  // Connects and starts polling. IOError when Postgres cannot be reached.
  Status Start();
  // Stops polling and reads the final status of every order seen pending.
  Status Finish(DirtyReadReport* out);

 private:
  void Poll();
  void Stop();

  const std::string dsn_;
  const std::chrono::milliseconds interval_;
  std::thread poller_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::unordered_set<int64_t> seen_;  // guarded by mu_
  uint64_t polls_ = 0, errors_ = 0;   // guarded by mu_
};

}  // namespace dw::saga
