// What rabbitmq/client.cc and rabbitmq/follower.cc share on the wire: a
// logged-in librabbitmq connection, librabbitmq's replies as a Status, and a
// delivery as a StoredMessage. Internal to dw_rabbitmq (it names amqp.h).
#pragma once

#include <amqp.h>
#include <sys/time.h>

#include <chrono>
#include <string>

#include "common/status.h"
#include "rabbitmq/client.h"

namespace dw::rabbitmq {

timeval ToTimeval(std::chrono::milliseconds ms);
// librabbitmq's bytes are not const, but only read where these are passed.
amqp_bytes_t Bytes(const std::string& s);
std::string Str(amqp_bytes_t b);

// The server's reason for closing a channel or the connection.
std::string CloseText(const amqp_method_t& m);
// OK for a normal reply; else what went wrong, prefixed by `what`.
Status ReplyStatus(const amqp_rpc_reply_t& r, const std::string& what);

// A delivery as a StoredMessage: its message-id, its dw-key header, its body.
StoredMessage FromEnvelope(const amqp_envelope_t& env);

// A connection to opts.url, logged in (no channel open yet), with
// opts.timeout as its connect and RPC timeout; nothing is left open on an
// error. `cancel_notify`: the server may send basic.cancel to a consumer
// whose queue went away (without the capability it drops the consumer
// silently, and the connection waits for deliveries that never come).
Status OpenConnection(const ClientOptions& opts, amqp_connection_state_t* out,
                      bool cancel_notify = false);

}  // namespace dw::rabbitmq
