// An outbox row as a relay sees it, and how it is published: with the
// broker's batch endpoint, the event's identity (event_id, "order-<id>") as
// the message id. The broker stores an id once per topic, so a row published
// twice (a relay that died after publishing and before acknowledging, two
// relays after a lease expired) is one message: at-least-once delivery,
// effectively-once result.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "participants/broker_client.h"

namespace dw::outbox {

struct OutboxEvent {
  int64_t id = 0;
  std::string topic;
  std::string event_id;
  std::string key;
  std::string payload;
};

// Publishes `events` in order: one PublishBatch per run of consecutive
// events with the same topic (in practice one call: every event goes to
// `orders`), split so that no request body exceeds 768 KiB of JSON (under
// the broker's default 1 MiB --max-body; sized from the escaped text, so an
// ordinary batch of 1000 events is one request and one durable write). OK
// only when the broker acknowledged all of them; on error some may have been
// stored, which the broker's deduplication makes harmless.
Status PublishEvents(BrokerClient* broker, const std::vector<OutboxEvent>& events);

}  // namespace dw::outbox
