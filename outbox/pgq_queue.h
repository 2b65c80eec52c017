// PgQ (Skytools' queue in Postgres, extension `pgq`) as the outbox's store:
// the writer calls pgq.insert_event in the business transaction instead of
// inserting an outbox row; the pgq relay (relay_pgq.h) consumes batches.
//
// Why it answers the two problems of a queue table:
//  - out-of-order commits: a tick records a transaction snapshot; a batch is
//    every event whose transaction became visible between two ticks, so an
//    event whose transaction commits late lands in a later batch, never
//    skipped (offset-naive's loss). A transaction still open (or prepared)
//    when a tick is taken is simply in a later batch; later commits are not
//    held back behind it, as offset-safe's are;
//  - vacuum: events are never updated or deleted one by one. The queue
//    rotates over 3 event tables and TRUNCATEs one once every consumer has
//    passed it: no dead tuples.
//
// The event's fields: ev_type = topic, ev_data = payload, ev_extra1 = the
// event id (the broker's dedupe key), ev_extra2 = the message key,
// ev_extra3 = the entity name.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace dw::outbox {

inline constexpr const char* kPgqQueue = "dw_outbox";
inline constexpr const char* kPgqConsumer = "dw_relay";

// The queue's ticker settings (pgq.set_queue_config). A tick is taken when
// ticker_max_count events wait or the oldest waits ticker_max_lag; an idle
// queue ticks at a slowing pace up to ticker_idle_period. The defaults
// (500 events, 3 s, 1 min) trade latency for fewer, larger batches; these
// aim at low latency: with pgqd calling the ticker every 50 ms, an event is
// in a batch within about max_lag + 50 ms.
struct PgqTickerSettings {
  int max_count = 1000;
  std::chrono::milliseconds max_lag{50};
  std::chrono::milliseconds idle_period{1000};
};

// Creates the extension (needs a superuser, once per database), the queue
// and the relay's consumer, and applies `settings` (null: leaves the
// queue's settings as they are, e.g. a writer's call). Idempotent.
Status EnsurePgqQueue(const std::string& dsn, const PgqTickerSettings* settings);

// "ticker_max_count=1000 ticker_max_lag=50ms ticker_idle_period=1000ms".
std::string DescribeTickerSettings(const PgqTickerSettings& settings);

// The writer's statement tail: the event of the order CTE `ord`, with
// $4 entity, $5 event id, $6 topic, $7 key, $8 payload.
std::string PgqInsertSql();

}  // namespace dw::outbox
