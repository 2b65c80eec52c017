// Capped exponential backoff with jitter, for a relay whose broker (or
// database) is down or slow. The n-th consecutive failure waits a random time
// in [d/2, d] with d = min(max, initial * 2^n): the cap bounds how long a
// recovered broker waits for the relays, the jitter keeps K relays from
// retrying in lock step.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace dw::outbox {

class Backoff {
 public:
  struct Options {
    std::chrono::milliseconds initial{50};
    std::chrono::milliseconds max{2000};
  };
  Backoff();
  explicit Backoff(const Options& opts);

  // The wait before the next attempt; each call doubles the bound up to max.
  std::chrono::milliseconds Next();
  // After a success.
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  Options opts_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace dw::outbox
