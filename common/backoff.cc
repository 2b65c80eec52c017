#include "common/backoff.h"

#include <algorithm>

namespace dw {

Backoff::Backoff() : Backoff(Options{}) {}

Backoff::Backoff(const Options& opts) : opts_(opts) {}

std::chrono::milliseconds Backoff::bound() const {
  int64_t d = opts_.initial.count();
  for (int i = 0; i < failures_ && d < opts_.max.count(); ++i) d *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(d, opts_.max.count()));
}

std::chrono::milliseconds Backoff::Next() {
  const int64_t d = bound().count();
  ++failures_;
  if (!opts_.jitter) return std::chrono::milliseconds(d);
  if (!rng_) rng_ = std::make_unique<std::mt19937_64>(std::random_device{}());
  std::uniform_int_distribution<int64_t> dist(d / 2, std::max<int64_t>(d / 2, d));
  return std::chrono::milliseconds(dist(*rng_));
}

}  // namespace dw
