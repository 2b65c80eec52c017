#include "outbox/backoff.h"

#include <algorithm>

namespace dw::outbox {

Backoff::Backoff() : Backoff(Options{}) {}

Backoff::Backoff(const Options& opts) : opts_(opts), rng_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::Next() {
  int64_t d = opts_.initial.count();
  for (int i = 0; i < failures_ && d < opts_.max.count(); ++i) d *= 2;
  d = std::min<int64_t>(d, opts_.max.count());
  ++failures_;
  std::uniform_int_distribution<int64_t> dist(d / 2, std::max<int64_t>(d / 2, d));
  return std::chrono::milliseconds(dist(rng_));
}

}  // namespace dw::outbox
