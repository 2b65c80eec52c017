// The Publisher (publisher.h) of a relay whose sink is NATS JetStream
// (`outbox relay --sink nats`): each event becomes one message on the
// subject and stream named after its topic, its event id the Nats-Msg-Id,
// its key in the Dw-Key header (jetstream/client.h). Publish returns OK only
// once JetStream acknowledged every event of the batch, as stored or as a
// duplicate the server dropped within the stream's window: the relay settles
// the batch then, as it does after dualwrite's broker acknowledged.
#pragma once

#include <memory>

#include "common/status.h"
#include "outbox/publisher.h"

namespace dw::outbox {

// A publisher for opts.nats_url (opts.broker_timeout, opts.dedupe_window,
// opts.nats_max_pending). Connects at once: a server that is down is an
// error the relay's Start reports and retries.
Status MakeJetStreamPublisher(const RelayOptions& opts, std::unique_ptr<Publisher>* out);

}  // namespace dw::outbox
