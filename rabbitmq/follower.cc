#include "rabbitmq/follower.h"

#include <amqp.h>
#include <amqp_framing.h>

#include "rabbitmq/amqp_util.h"

namespace dw::rabbitmq {
namespace {

// Unacknowledged deliveries one consumer may hold (basic.qos takes 16 bits).
// A quorum queue reads a prefetch of 0 ("no limit") as 2000 in RabbitMQ 3.10.
constexpr uint64_t kPrefetch = 60000;
// Channels the server grants a connection (channel_max 2047 by default).
constexpr int kMaxConsumers = 2000;

}  // namespace

struct Follower::Impl {
  amqp_connection_state_t conn = nullptr;
  ~Impl() {
    // No polite close: closing the socket is enough for the server to drop
    // the connection and return every unacknowledged delivery to the queue.
    if (conn) amqp_destroy_connection(conn);
  }
};

Follower::Follower(const ClientOptions& opts, std::string topic)
    : opts_(opts), topic_(std::move(topic)), impl_(std::make_unique<Impl>()) {}

Follower::~Follower() = default;

Status Follower::Open(const ClientOptions& opts, const std::string& topic,
                      std::unique_ptr<Follower>* out) {
  {
    // The queue as the relay declares it: a consumer of a missing queue is
    // refused, and the relay may not have published yet.
    std::unique_ptr<Client> c;
    Status s = Client::Connect(opts, &c);
    if (s.ok()) s = c->EnsureQueue(topic);
    if (!s.ok()) return s;
  }
  std::unique_ptr<Follower> f(new Follower(opts, topic));
  Status s = OpenConnection(opts, &f->impl_->conn, /*cancel_notify=*/true);
  if (s.ok()) s = f->AddConsumer();
  if (!s.ok()) return s;
  *out = std::move(f);
  return Status::OK();
}

Status Follower::AddConsumer() {
  if (consumers_ >= kMaxConsumers) {
    return Status::FailedPrecondition("rabbitmq follower of " + topic_ + ": " +
                                      std::to_string(held_) + " messages held, no room for more");
  }
  amqp_connection_state_t conn = impl_->conn;
  const amqp_channel_t ch = static_cast<amqp_channel_t>(consumers_ + 1);
  amqp_channel_open(conn, ch);
  Status s = ReplyStatus(amqp_get_rpc_reply(conn), "rabbitmq channel.open");
  if (s.ok()) {
    amqp_basic_qos(conn, ch, 0, static_cast<uint16_t>(kPrefetch), 0);
    s = ReplyStatus(amqp_get_rpc_reply(conn), "rabbitmq basic.qos");
  }
  if (s.ok()) {
    amqp_basic_consume(conn, ch, Bytes(topic_), amqp_empty_bytes, /*no_local=*/0,
                       /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
    s = ReplyStatus(amqp_get_rpc_reply(conn), "rabbitmq basic.consume " + topic_);
  }
  if (s.ok()) ++consumers_;
  return s;
}

Status Follower::Next(size_t max, std::chrono::milliseconds wait, std::vector<StoredMessage>* out) {
  out->clear();
  if (!impl_->conn) {
    return Status::FailedPrecondition("rabbitmq follower of " + topic_ + " failed before");
  }
  amqp_connection_state_t conn = impl_->conn;
  auto fail = [&](const Status& why) {
    // The server takes back every delivery, those of this batch included.
    amqp_destroy_connection(impl_->conn);
    impl_->conn = nullptr;
    out->clear();
    return why;
  };
  // Room before the consumers fill: a full one gets nothing more.
  if (held_ + kPrefetch / 2 >= static_cast<uint64_t>(consumers_) * kPrefetch) {
    Status s = AddConsumer();
    if (!s.ok()) return fail(s);
  }
  timeval first = ToTimeval(wait);
  timeval now{0, 0};  // what has arrived already, without waiting
  while (out->size() < max) {
    amqp_maybe_release_buffers(conn);
    amqp_envelope_t env;
    amqp_rpc_reply_t r = amqp_consume_message(conn, &env, out->empty() ? &first : &now, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
      out->push_back(FromEnvelope(env));
      amqp_destroy_envelope(&env);
      ++held_;
      continue;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
      break;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // Another method came first: a close or a cancel (the queue deleted)
      // ends the Follower; anything else is skipped.
      amqp_frame_t f;
      timeval tv = ToTimeval(opts_.timeout);
      if (amqp_simple_wait_frame_noblock(conn, &f, &tv) != AMQP_STATUS_OK) {
        return fail(Status::Unavailable("rabbitmq follower of " + topic_ + ": connection lost"));
      }
      if (f.frame_type == AMQP_FRAME_METHOD &&
          (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
           f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        return fail(
            Status::IOError("rabbitmq follower of " + topic_ + ": " + CloseText(f.payload.method)));
      }
      if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
        return fail(Status::IOError("rabbitmq follower of " + topic_ +
                                    ": consumer cancelled by the server (queue deleted?)"));
      }
      continue;
    }
    return fail(ReplyStatus(r, "rabbitmq follower of " + topic_));
  }
  return Status::OK();
}

}  // namespace dw::rabbitmq
