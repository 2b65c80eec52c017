#include "broker/faults.h"

#include <cmath>

namespace dw::broker {
namespace {

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* CrashPointName(CrashPoint c) {
  switch (c) {
    case CrashPoint::kNone:
      return "";
    case CrashPoint::kAfterStageBeforeVote:
      return "after-stage-before-vote";
    case CrashPoint::kAfterCommitBeforeReply:
      return "after-commit-before-reply";
  }
  return "";
}

bool ParseCrashPoint(const std::string& s, CrashPoint* out) {
  for (CrashPoint c : {CrashPoint::kNone, CrashPoint::kAfterStageBeforeVote,
                       CrashPoint::kAfterCommitBeforeReply}) {
    if (s == CrashPointName(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

Faults::Faults(const FaultConfig& initial)
    : cfg_(initial), rng_(std::random_device{}()), crash_at_(initial.crash_at) {}

Status Faults::Validate(const FaultConfig& c) {
  // An hour of latency is surely a typo; and NaN compares false with everything.
  if (!(c.latency_ms >= 0 && c.latency_ms <= 3600e3)) {
    return Status::InvalidArgument("latency_ms must be in [0, 3600000]");
  }
  if (!(c.jitter_ms >= 0 && c.jitter_ms <= 3600e3)) {
    return Status::InvalidArgument("jitter_ms must be in [0, 3600000]");
  }
  if (!(c.abort_prob >= 0 && c.abort_prob <= 1)) {
    return Status::InvalidArgument("abort_prob must be in [0, 1]");
  }
  if (!(c.reject_prob >= 0 && c.reject_prob <= 1)) {
    return Status::InvalidArgument("reject_prob must be in [0, 1]");
  }
  return Status::OK();
}

void Faults::Set(const FaultConfig& c) {
  std::lock_guard lock(mu_);
  cfg_ = c;
  crash_at_.store(c.crash_at, std::memory_order_relaxed);
}

FaultConfig Faults::Get() const {
  std::lock_guard lock(mu_);
  return cfg_;
}

void Faults::SetDownFor(int64_t ms) {
  down_until_ns_.store(ms > 0 ? SteadyNowNs() + ms * 1000000 : 0, std::memory_order_relaxed);
}

bool Faults::Down() const { return DownRemainingMs() > 0; }

int64_t Faults::DownRemainingMs() const {
  int64_t left = down_until_ns_.load(std::memory_order_relaxed) - SteadyNowNs();
  return left > 0 ? (left + 999999) / 1000000 : 0;
}

std::chrono::microseconds Faults::NextDelay() {
  std::lock_guard lock(mu_);
  double ms = cfg_.latency_ms;
  if (cfg_.jitter_ms > 0) ms += std::uniform_real_distribution<double>(0, cfg_.jitter_ms)(rng_);
  return std::chrono::microseconds(static_cast<int64_t>(std::llround(ms * 1000)));
}

bool Faults::RollAbort() {
  std::lock_guard lock(mu_);
  if (cfg_.abort_prob <= 0) return false;
  if (cfg_.abort_prob >= 1) return true;
  return std::uniform_real_distribution<double>(0, 1)(rng_) < cfg_.abort_prob;
}

bool Faults::RollReject() {
  std::lock_guard lock(mu_);
  if (cfg_.reject_prob <= 0) return false;
  if (cfg_.reject_prob >= 1) return true;
  return std::uniform_real_distribution<double>(0, 1)(rng_) < cfg_.reject_prob;
}

}  // namespace dw::broker
