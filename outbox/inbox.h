// The consumer's inbox: what turns the at-least-once delivery of a broker
// without deduplication (RabbitMQ) into effectively-once processing.
//
// The consumer's database holds `inbox`, keyed by message id. Each delivery
// is handled in ONE transaction: insert its id into the inbox and, only if
// the id is new, do the consumer's work (here: count the event against its
// order in `consumer_orders`). A redelivered message finds its id there, does
// no work, and adds one to the row's `absorbed`. The broker's ack is sent
// after the COMMIT: a consumer that dies between the two gets the message
// again, and the inbox absorbs it then.
//
// Without the inbox (inbox = false) every delivery does the work, so a
// duplicate counts an order's event twice: what the inbox is for.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dw::outbox {

struct InboxOptions {
  std::string dsn;       // the consumer's database
  std::string amqp_url;  // the RabbitMQ server
  std::string topic = "orders";
  bool inbox = true;
  // The consumer returns once no message arrived for this long.
  std::chrono::milliseconds idle{2000};
};

struct InboxReport {
  uint64_t delivered = 0;  // messages received and acked
  uint64_t applied = 0;    // of those, the work was done
  uint64_t absorbed = 0;   // of those, the inbox knew the id: no work
  std::string ToText() const;
  nlohmann::json ToJson() const;
};

// Creates `inbox` and `consumer_orders` when missing.
Status EnsureInboxSchema(const std::string& dsn);

// Consumes opts.topic's queue until it is idle.
Status ConsumeWithInbox(const InboxOptions& opts, InboxReport* out);

}  // namespace dw::outbox
