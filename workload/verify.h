// Verify: the atomicity check every approach is judged by. It compares the
// `orders` table with the broker's topic by key (the order id):
//   missing    a row without a message  (the message was lost, or not yet sent)
//   orphan     a message without a row  (the write was rolled back, the message escaped)
//   duplicate  an event of a key carried by more than one message (with one
//              event per order: a key carried by more than one message);
//              duplicate_messages counts the extra copies by message id
//   in doubt   prepared transactions left at Postgres or at the broker
// and, per key (workload/order_check.h; several events per order,
// workload/order_events.h), against the version the order's row reached:
//   reordered  a key's events read in an order other than 1..V (first deliveries)
//   gap        a version in 1..V never read, though the key has events
//   ahead      an event past the row's version (its UPDATE rolled back, the event escaped)
// Any of them is a violation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "workload/order_check.h"

namespace dw::workload {

struct VerifyOptions {
  std::string dsn;
  std::string broker_url;
  // Non-empty: read the topic from this NATS JetStream server (the stream of
  // the topic's name) instead of the broker; nothing is prepared there.
  std::string nats_url;
  // Non-empty: read the topic from this RabbitMQ server (the quorum queue of
  // the topic's name; its messages are read and returned to the queue, not
  // consumed) instead of the broker; nothing is prepared there.
  std::string amqp_url;
  std::string topic = "orders";
  size_t max_listed = 20;  // keys named per category in text output (JSON has them all)
  // Only order ids in [min_id, max_id] are judged; rows and messages outside
  // are ignored (several experiments sharing one broker, each with its own
  // id range: `compare --broker URL`).
  int64_t min_id = 0;
  int64_t max_id = INT64_MAX;
};

struct VerifyReport {
  uint64_t rows = 0;
  uint64_t messages = 0;
  // Messages whose message id was read before: the extra copies a consumer
  // receives. dualwrite's broker and JetStream (within its window) drop a
  // republished id; RabbitMQ delivers every copy.
  uint64_t duplicate_messages = 0;
  // A consumer's inbox in this database (outbox/inbox.h): the message ids it
  // took and the redeliveries it absorbed (did no work for).
  bool has_inbox = false;
  uint64_t inbox_ids = 0;
  uint64_t inbox_absorbed = 0;
  std::vector<int64_t> missing;                // order ids with a row and no message
  std::vector<int64_t> orphans;                // order ids with a message and no row
  std::vector<int64_t> duplicates;             // order ids with an event read more than once
  uint64_t keys_checked = 0;                   // orders with a row and an event read
  uint64_t multi_event_keys = 0;               // of those, rows past version 1
  std::vector<Inversion> reordered;            // order ids with their first inversion
  std::vector<int64_t> gaps;                   // a version of the row never read
  std::vector<int64_t> ahead;                  // an event past the row's version read
  std::vector<std::string> foreign_keys;       // message keys that are not order ids
  std::vector<std::string> prepared_postgres;  // gids in pg_prepared_xacts (this database)
  std::vector<std::string> prepared_broker;    // gids prepared at the broker
  // False when the messages were read from a sink that cannot prepare
  // (JetStream, RabbitMQ): the report then says nothing about the broker's
  // prepared transactions rather than a "0" that was never checked.
  bool broker_prepares = true;

  bool ok() const {
    return missing.empty() && orphans.empty() && duplicates.empty() && foreign_keys.empty() &&
           prepared_postgres.empty() && prepared_broker.empty() && reordered.empty() &&
           gaps.empty() && ahead.empty();
  }
  nlohmann::json ToJson() const;
  // {keys_checked, multi_event_keys, reordered: [{order, later_version,
  //  later_offset, version, offset}], gaps, ahead}: the "order_per_key" of ToJson.
  nlohmann::json OrderPerKeyJson() const;
  // The order-per-key lines appear only when some row is past version 1 or
  // one of them found something: a run with one event per order reads as before.
  std::string ToText(size_t max_listed) const;
};

Status Verify(const VerifyOptions& opts, VerifyReport* out);

// Saga mode (`dualwrite saga verify`). The saga's orders (rows of
// saga_orders, see saga/schema.h) are judged by their status against the
// topic's OrderPlaced (id "order-<id>") and OrderCancelled (id
// "order-<id>-cancelled") events, in offset order:
//   placed      exactly one OrderPlaced and no OrderCancelled
//   cancelled   no OrderPlaced, or an OrderPlaced followed by an OrderCancelled
//   pending     none left ('pending' orders, sagas still 'compensating')
//   orphan      no event without its row: an event whose order id has no
//               `orders` row, or an OrderCancelled with no saga order
// Orders of the other approaches (no saga_orders row) and their events are
// not judged here; `Verify` above is their check. Same id range as Verify.
struct SagaVerifyReport {
  uint64_t orders = 0;  // saga orders judged
  uint64_t placed = 0;
  uint64_t cancelled = 0;
  uint64_t messages = 0;                       // events of the judged range read
  std::vector<int64_t> pending;                // status 'pending'
  std::vector<int64_t> compensating;           // cancelled, OrderCancelled not yet acknowledged
  std::vector<int64_t> placed_missing;         // placed, no OrderPlaced
  std::vector<int64_t> placed_duplicates;      // placed, more than one OrderPlaced
  std::vector<int64_t> placed_cancelled;       // placed, yet an OrderCancelled exists
  std::vector<int64_t> cancelled_unannounced;  // cancelled, OrderPlaced not followed by
                                               // an OrderCancelled
  std::vector<int64_t> orphans;                // events without their row

  bool ok() const {
    return pending.empty() && compensating.empty() && placed_missing.empty() &&
           placed_duplicates.empty() && placed_cancelled.empty() && cancelled_unannounced.empty() &&
           orphans.empty();
  }
  nlohmann::json ToJson() const;
  std::string ToText(size_t max_listed) const;
};

Status VerifySaga(const VerifyOptions& opts, SagaVerifyReport* out);

}  // namespace dw::workload
