// A crash point armed after N finished operations: `--crash-at STEP
// --crash-after N` of the 2PC and 3PC coordinators and the saga
// orchestrator. The point fires at STEP of the first operation that reaches
// it once N operations have finished (whatever their outcome), so a crash
// leaves committed history behind it, not only the operation it kills.
//
// Thread-safe: Due() and Finished() run on every load worker at once. The
// count is relaxed: which operation dies first among those racing past STEP
// right after the N-th finished is not defined, and need not be; the dying
// (common/crash_exit.h) is each caller's, since each names its steps.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace dw {

template <class Step>
class ArmedCrash {
 public:
  ArmedCrash() = default;  // never fires
  ArmedCrash(std::optional<Step> at, int64_t after_finished) : at_(at), after_(after_finished) {}

  // Whether an operation reaching `s` must die now, by this object's own
  // count of finished operations or by the caller's `finished`.
  bool Due(Step s) const { return Due(s, finished_.load(std::memory_order_relaxed)); }
  bool Due(Step s, int64_t finished) const { return at_ && *at_ == s && finished >= after_; }

  // One more operation finished.
  void Finished() const { finished_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::optional<Step> at_;
  int64_t after_ = 0;
  mutable std::atomic<int64_t> finished_{0};
};

}  // namespace dw
