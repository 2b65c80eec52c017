// Publisher: where a relay sends its batches. Every relay settles a batch
// (deletes its rows, marks them sent, advances its offset, confirms the
// slot's flush position) only after Publish returned OK for it, so behind
// this interface a test can make publishing fail and check what stays
// unsettled (tests/support/fake_publisher.h). The real one publishes to the
// broker (PublishEvents, event.h).
//
// Publish: OK only when the broker acknowledged every event, durably. On an
// error some of them may have been stored: the broker keeps an event id once
// per topic, so publishing them again is harmless.
// A Publisher is used by one relay instance (one thread).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/trace.h"
#include "outbox/event.h"
#include "outbox/relay.h"

namespace dw::outbox {

class Publisher {
 public:
  virtual ~Publisher() = default;
  virtual Status Publish(const std::vector<OutboxEvent>& events) = 0;

  // How a trace (PublishTraced) names what Publish does: the peer, the
  // request for `events`, and what an OK means. The defaults describe
  // dualwrite's broker; a publisher to another sink says what it sends there.
  virtual std::string TracePeer() const { return "broker"; }
  virtual std::string TraceRequest(const std::vector<OutboxEvent>& events) const;
  virtual std::string TraceAck() const { return "200: stored durably"; }
};

// What a relay publishes through: RelayOptions::publisher when set, else
// JetStream when opts.nats_url is set (jetstream_publisher.h), RabbitMQ when
// opts.amqp_url is (rabbitmq_publisher.h), else a
// BrokerClient for opts.broker_url (opts.broker_timeout, 2 idle connections).
Status MakePublisher(const RelayOptions& opts, std::unique_ptr<Publisher>* out);

// "N messages (first .. last)": the event ids a trace line names.
std::string DescribeEvents(const std::vector<OutboxEvent>& events);

// Publish, recorded as a send to and a reply from the publisher's TracePeer
// when `tr` is non-null (`id` is the batch's trace id).
Status PublishTraced(Publisher* publisher, const std::vector<OutboxEvent>& events, Trace* tr,
                     const std::string& id);

}  // namespace dw::outbox
