// T2, the pivot: publishing OrderPlaced decides the saga. Before it the saga
// can still be compensated; once the broker has acknowledged it, the saga
// only goes forward (T3 is retried until it succeeds).
//
// PublishPivot retries technical failures (no connection, a timeout, a lost
// response, a 5xx, an auth refusal: none is an answer about the order) with
// capped exponential backoff and jitter (common/backoff.h) while the next
// attempt would still start inside the budget; an attempt already started
// may run up to the client's timeout past it. Every retry carries the same
// message id, so the broker stores the event once however many attempts
// land. A refusal (a 4xx other than 401/403: 422 from the reject_prob fault,
// or any other "no") ends it at once: retrying would hear the same no.
//
// in_doubt: some attempt's outcome is unknown (timeout, response lost, 5xx),
// so the event may be stored, or may still be stored later by a request the
// broker is processing. The compensation then publishes the fence,
// [OrderPlaced, OrderCancelled] in one batch: if OrderPlaced is stored
// already the broker deduplicates it and OrderCancelled lands after it; if
// not, both land in that order and a late attempt deduplicates against
// them. Either way a consumer never reads OrderCancelled before OrderPlaced.
#pragma once

#include <chrono>
#include <vector>

#include "common/backoff.h"
#include "common/status.h"
#include "participants/broker_client.h"

namespace dw::saga {

enum class PivotResult { kPublished, kRefused, kOutOfBudget };
const char* PivotResultName(PivotResult r);

struct PivotReport {
  PivotResult result = PivotResult::kOutOfBudget;
  int attempts = 0;
  bool in_doubt = false;
  Status last;  // the last failure (OK when published at the first attempt)
};

struct PivotOptions {
  std::chrono::milliseconds budget{5000};
  Backoff::Options backoff{std::chrono::milliseconds(20), std::chrono::milliseconds(500), true};
};

// A 4xx answer meaning "no" (BrokerClient's InvalidArgument, NotFound, Aborted).
bool IsRefusal(const Status& s);

PivotReport PublishPivot(BrokerClient* broker, const OutMessage& placed, const PivotOptions& o);

// The compensation's event: OrderCancelled alone, or the fence above when
// `in_doubt`. Through the batch endpoint, which the reject_prob fault never
// refuses (broker/faults.h): a compensation is decided, it must be
// delivered. Retried like the pivot within `o.budget`; the last failure if
// it is not acknowledged by then (recovery sends it later).
Status PublishCompensation(BrokerClient* broker, const OutMessage& placed,
                           const OutMessage& cancelled, bool in_doubt, const PivotOptions& o);

}  // namespace dw::saga
