// Backoff: capped exponential backoff between the attempts of a call to a
// party that is down or slow (a relay's broker or database; the
// coordinator's phase 2 and aborts). The n-th consecutive failure waits
// about d = min(max, initial * 2^n): the cap bounds how long a party that
// came back waits for the retries.
//   jitter on (the default): a random time in [d/2, d], which keeps K
//     relays from retrying in lock step;
//   jitter off: exactly d, so a caller can compare the next wait with a
//     deadline before it sleeps (bound()).
// One object per retry loop; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>

namespace dw {

class Backoff {
 public:
  struct Options {
    std::chrono::milliseconds initial{50};
    std::chrono::milliseconds max{2000};
    bool jitter = true;
  };
  Backoff();
  explicit Backoff(const Options& opts);

  // The wait before the next attempt; each call doubles the bound up to max.
  std::chrono::milliseconds Next();
  // d for the next call of Next: what it returns when jitter is off, its
  // upper end when on.
  std::chrono::milliseconds bound() const;
  // After a success.
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  Options opts_;
  int failures_ = 0;
  // Seeded at the first jittered wait, not at construction: a Backoff that
  // never jitters (the coordinator's, one per transaction) never reads the
  // random device.
  std::unique_ptr<std::mt19937_64> rng_;
};

}  // namespace dw
