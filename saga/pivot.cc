#include "saga/pivot.h"

#include <thread>

namespace dw::saga {
namespace {

using Clock = std::chrono::steady_clock;

// Outcome unknown: the request may have been applied.
bool MayHaveLanded(const Status& s) {
  return s.IsOutcomeUnknown() || s.code() == Status::Code::kIOError;
}

// Waits before the next attempt; false when it would start past `deadline`.
bool WaitForNextAttempt(Backoff* b, Clock::time_point deadline) {
  auto wait = b->Next();
  if (Clock::now() + wait >= deadline) return false;
  std::this_thread::sleep_for(wait);
  return true;
}

}  // namespace

const char* PivotResultName(PivotResult r) {
  switch (r) {
    case PivotResult::kPublished:
      return "published";
    case PivotResult::kRefused:
      return "refused";
    case PivotResult::kOutOfBudget:
      return "out-of-budget";
  }
  return "?";
}

bool IsRefusal(const Status& s) {
  return s.code() == Status::Code::kInvalidArgument || s.code() == Status::Code::kNotFound ||
         s.code() == Status::Code::kAborted;
}

PivotReport PublishPivot(BrokerClient* broker, const OutMessage& placed, const PivotOptions& o) {
  PivotReport r;
  const auto deadline = Clock::now() + o.budget;
  Backoff backoff(o.backoff);
  for (;;) {
    ++r.attempts;
    uint64_t offset = 0;
    Status s = broker->Publish(placed.topic, placed, &offset);
    if (s.ok()) {
      r.result = PivotResult::kPublished;
      return r;
    }
    r.last = s;
    if (IsRefusal(s)) {
      r.result = PivotResult::kRefused;
      return r;
    }
    r.in_doubt |= MayHaveLanded(s);
    if (!WaitForNextAttempt(&backoff, deadline)) {
      r.result = PivotResult::kOutOfBudget;
      return r;
    }
  }
}

Status PublishCompensation(BrokerClient* broker, const OutMessage& placed,
                           const OutMessage& cancelled, bool in_doubt, const PivotOptions& o) {
  std::vector<OutMessage> batch;
  if (in_doubt) batch.push_back(placed);
  batch.push_back(cancelled);
  const auto deadline = Clock::now() + o.budget;
  Backoff backoff(o.backoff);
  for (;;) {
    std::vector<uint64_t> offsets;
    Status s = broker->PublishBatch(cancelled.topic, batch, &offsets);
    if (s.ok()) return s;
    if (!WaitForNextAttempt(&backoff, deadline)) return s;
  }
}

}  // namespace dw::saga
