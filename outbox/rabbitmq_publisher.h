// The Publisher (publisher.h) of a relay whose sink is RabbitMQ (`outbox
// relay --sink rabbitmq`): each event becomes one persistent message in the
// durable quorum queue named after its topic, its event id the message-id,
// its key in the dw-key header (rabbitmq/client.h). Publish returns OK only
// once the server confirmed every event of the batch (publisher confirms);
// the relay settles the batch then, as it does after dualwrite's broker
// acknowledged. Unlike dualwrite's broker and JetStream, RabbitMQ keeps no
// event ids: a batch published again after a failure (or a relay killed
// between the confirms and its COMMIT) is delivered again.
#pragma once

#include <memory>

#include "common/status.h"
#include "outbox/publisher.h"

namespace dw::outbox {

// A publisher for opts.amqp_url (opts.broker_timeout). Connects at once: a
// server that is down is an error the relay's Start reports and retries.
Status MakeRabbitmqPublisher(const RelayOptions& opts, std::unique_ptr<Publisher>* out);

}  // namespace dw::outbox
