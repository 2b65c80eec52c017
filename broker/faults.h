// Faults: the knobs that make the broker misbehave on purpose, so 2PC and the
// outbox can be measured against a slow, flaky or crashing participant. Set
// from flags at start and at run time through POST /admin/faults.
//
//   latency_ms / jitter_ms  added before handling each request: latency +
//                           uniform [0, jitter]. Applied with an async timer on
//                           the connection's strand (threads are not blocked).
//                           Not applied to /healthz, /metrics and /admin/*, so
//                           probes and fault control stay fast.
//   abort_prob              probability that a prepare votes abort (the gid is
//                           then recorded as aborted).
//   reject_prob             probability that a single-message publish
//                           (POST /topics/{t}/messages) is refused with 422
//                           and a reason, nothing stored: the downstream's
//                           business "no" that a saga compensates. Batches are
//                           never refused: they carry events already decided
//                           (an outbox relay's, a saga's compensation), which
//                           the sender must deliver, not have judged again.
//   down_for_ms             for that long, new connections are closed right
//                           after accept and requests on open connections get
//                           their connection closed without a response -
//                           /admin/* included, so it expires by itself.
//   crash_at                "after-stage-before-vote": _exit(3) once a prepare
//                           record is durable, before answering it;
//                           "after-commit-before-reply": _exit(3) once a commit
//                           record is durable, before answering it; "": off.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "common/status.h"

namespace dw::broker {

enum class CrashPoint { kNone, kAfterStageBeforeVote, kAfterCommitBeforeReply };

const char* CrashPointName(CrashPoint c);
// "" / "after-stage-before-vote" / "after-commit-before-reply"; false otherwise.
bool ParseCrashPoint(const std::string& s, CrashPoint* out);

struct FaultConfig {
  double latency_ms = 0;
  double jitter_ms = 0;
  double abort_prob = 0;
  double reject_prob = 0;
  CrashPoint crash_at = CrashPoint::kNone;
};

class Faults {
 public:
  explicit Faults(const FaultConfig& initial = {});

  // Validates and replaces the configuration (InvalidArgument on bad values).
  static Status Validate(const FaultConfig& c);
  void Set(const FaultConfig& c);
  FaultConfig Get() const;

  // Makes the broker "down" for `ms` from now (0 ends it).
  void SetDownFor(int64_t ms);
  bool Down() const;
  int64_t DownRemainingMs() const;

  // The delay to add before a request: latency + uniform jitter.
  std::chrono::microseconds NextDelay();
  // Rolls the abort-probability die.
  bool RollAbort();
  // Rolls the reject-probability die (single-message publishes).
  bool RollReject();
  CrashPoint crash_at() const { return crash_at_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mu_;
  FaultConfig cfg_;
  std::mt19937_64 rng_;
  std::atomic<CrashPoint> crash_at_;
  std::atomic<int64_t> down_until_ns_{0};  // steady_clock
};

}  // namespace dw::broker
