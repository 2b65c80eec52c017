#include "rabbitmq/client.h"

#include <amqp.h>
#include <amqp_framing.h>

#include <algorithm>
#include <unordered_set>

#include "rabbitmq/amqp_util.h"

namespace dw::rabbitmq {
namespace {

constexpr amqp_channel_t kPublishChannel = 1;
constexpr amqp_channel_t kReadChannel = 2;

}  // namespace

struct Client::Impl {
  amqp_connection_state_t conn = nullptr;
  std::unordered_set<std::string> queues;  // declared on this connection
  // The delivery tag the server gives the next publish on kPublishChannel:
  // confirm.select numbers the channel's publishes from 1.
  uint64_t next_tag = 1;
};

Client::Client(const ClientOptions& opts) : opts_(opts) {}

Client::~Client() { Close(); }

Status Client::Connect(const ClientOptions& opts, std::unique_ptr<Client>* out) {
  std::unique_ptr<Client> c(new Client(opts));
  Status s = c->Open();
  if (!s.ok()) return s;
  *out = std::move(c);
  return Status::OK();
}

Status Client::Open() {
  auto impl = std::make_unique<Impl>();
  Status s = OpenConnection(opts_, &impl->conn);
  if (!s.ok()) return s;
  impl_ = std::move(impl);
  amqp_channel_open(impl_->conn, kPublishChannel);
  s = ReplyStatus(amqp_get_rpc_reply(impl_->conn), "rabbitmq channel.open");
  if (s.ok()) {
    amqp_confirm_select(impl_->conn, kPublishChannel);
    s = ReplyStatus(amqp_get_rpc_reply(impl_->conn), "rabbitmq confirm.select");
  }
  if (!s.ok()) Close();
  return s;
}

void Client::Close() {
  if (!impl_) return;
  // No polite close: after an error the peer may be gone, and closing the
  // socket is enough for the server to drop the connection and return any
  // unacknowledged deliveries to their queues.
  if (impl_->conn) amqp_destroy_connection(impl_->conn);
  impl_.reset();
}

Status Client::Declare(const std::string& topic, uint64_t* ready) {
  if (!impl_) {
    Status s = Open();
    if (!s.ok()) return s;
  }
  amqp_table_entry_t type;
  type.key = amqp_cstring_bytes("x-queue-type");
  type.value.kind = AMQP_FIELD_KIND_UTF8;
  type.value.value.bytes = amqp_cstring_bytes("quorum");
  amqp_table_t args;
  args.num_entries = 1;
  args.entries = &type;
  // Quorum queues must be durable, not exclusive, not auto-delete.
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(impl_->conn, kPublishChannel, Bytes(topic), /*passive=*/0,
                         /*durable=*/1, /*exclusive=*/0, /*auto_delete=*/0, args);
  if (ok == nullptr) {
    Status s = ReplyStatus(amqp_get_rpc_reply(impl_->conn), "rabbitmq queue.declare " + topic);
    Close();  // a server error closed the channel; start over on a new connection
    return s.ok() ? Status::IOError("rabbitmq queue.declare " + topic + " failed") : s;
  }
  if (ready) *ready = ok->message_count;
  impl_->queues.insert(topic);
  return Status::OK();
}

Status Client::EnsureQueue(const std::string& topic) {
  if (impl_ && impl_->queues.count(topic)) return Status::OK();
  return Declare(topic, nullptr);
}

Status Client::Publish(const std::string& topic, const std::vector<OutMessage>& msgs) {
  Status s = EnsureQueue(topic);
  if (!s.ok()) return s;
  if (msgs.empty()) return Status::OK();
  amqp_connection_state_t conn = impl_->conn;
  const uint64_t first = impl_->next_tag;
  const size_t n = msgs.size();
  auto fail = [&](const std::string& why) {
    Close();
    return Status::Unavailable("rabbitmq publish to " + topic + ": " + why);
  };

  amqp_table_entry_t key_header;
  key_header.key = amqp_cstring_bytes(kKeyHeader);
  key_header.value.kind = AMQP_FIELD_KIND_UTF8;
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                 AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_HEADERS_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.headers.num_entries = 1;
  props.headers.entries = &key_header;
  for (const auto& m : msgs) {
    props.message_id = Bytes(m.id);
    key_header.value.value.bytes = Bytes(m.key);
    // mandatory: a message no queue takes comes back as basic.return (and
    // is then acked); without it the server drops it and acks it anyway.
    int rc = amqp_basic_publish(conn, kPublishChannel, amqp_empty_bytes, Bytes(topic),
                                /*mandatory=*/1, /*immediate=*/0, &props, Bytes(m.payload));
    if (rc != AMQP_STATUS_OK) return fail(amqp_error_string2(rc));
    ++impl_->next_tag;
  }

  // The confirms: basic.ack (or basic.nack) per delivery tag, or with
  // `multiple` for every tag up to it; not necessarily one per message.
  const uint64_t last = first + n - 1;
  std::vector<bool> acked(n, false);
  size_t lo = 0;  // acked[0 .. lo) are all true
  size_t left = n;
  auto mark = [&](uint64_t tag) {
    if (tag < first || tag > last || acked[tag - first]) return;
    acked[tag - first] = true;
    --left;
  };
  const auto deadline = std::chrono::steady_clock::now() + opts_.timeout;
  while (left > 0) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      return fail("no confirm for " + std::to_string(left) + " of " + std::to_string(n) +
                  " messages within " + std::to_string(opts_.timeout.count()) + " ms");
    }
    timeval tv = ToTimeval(remaining);
    amqp_frame_t f;
    int rc = amqp_simple_wait_frame_noblock(conn, &f, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;  // the deadline check above fails it
    if (rc != AMQP_STATUS_OK)
      return fail(std::string("waiting for confirms: ") + amqp_error_string2(rc));
    if (f.frame_type != AMQP_FRAME_METHOD) continue;
    switch (f.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* a = static_cast<amqp_basic_ack_t*>(f.payload.method.decoded);
        if (a->multiple) {
          for (; lo < n && first + lo <= a->delivery_tag; ++lo) mark(first + lo);
        } else {
          mark(a->delivery_tag);
        }
        while (lo < n && acked[lo]) ++lo;
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        auto* a = static_cast<amqp_basic_nack_t*>(f.payload.method.decoded);
        return fail("the server nacked delivery tag " + std::to_string(a->delivery_tag));
      }
      case AMQP_BASIC_RETURN_METHOD: {
        auto* r = static_cast<amqp_basic_return_t*>(f.payload.method.decoded);
        return fail("a message came back unroutable: " + std::to_string(r->reply_code) + " " +
                    Str(r->reply_text) + " (no queue " + topic + "?)");
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        return fail(CloseText(f.payload.method));
      default:
        break;  // connection.blocked and the like: keep waiting for the confirms
    }
  }
  // librabbitmq keeps every decoded frame in its pools until released.
  amqp_maybe_release_buffers(conn);
  return Status::OK();
}

Status Client::Read(const std::string& topic, std::vector<StoredMessage>* out) {
  out->clear();
  uint64_t ready = 0;
  Status s = Declare(topic, &ready);
  if (!s.ok()) return s;
  if (ready == 0) return Status::OK();
  amqp_connection_state_t conn = impl_->conn;
  auto fail = [&](const Status& why) {
    Close();  // the server returns what we were delivered to the queue
    return why;
  };
  // Channels of their own: closing them returns every unacknowledged
  // delivery to the queue, and the publishing channel stays as it is.
  // A consumer gets at most its prefetch count of unacked deliveries, and
  // for a quorum queue "no limit" (prefetch 0) means 2000 in RabbitMQ 3.10:
  // the read would stall at 2000. So one consumer per kPrefetch ready
  // messages (prefetch is 16 bits), each on its own channel.
  constexpr uint64_t kPrefetch = 60000;
  const int consumers = static_cast<int>((ready + kPrefetch - 1) / kPrefetch);
  for (int i = 0; i < consumers; ++i) {
    const amqp_channel_t ch = static_cast<amqp_channel_t>(kReadChannel + i);
    amqp_channel_open(conn, ch);
    s = ReplyStatus(amqp_get_rpc_reply(conn), "rabbitmq channel.open");
    if (!s.ok()) return fail(s);
    amqp_basic_qos(conn, ch, 0, static_cast<uint16_t>(kPrefetch), 0);
    s = ReplyStatus(amqp_get_rpc_reply(conn), "rabbitmq basic.qos");
    if (!s.ok()) return fail(s);
    amqp_basic_consume(conn, ch, Bytes(topic), amqp_empty_bytes, /*no_local=*/0,
                       /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
    s = ReplyStatus(amqp_get_rpc_reply(conn), "rabbitmq basic.consume " + topic);
    if (!s.ok()) return fail(s);
  }

  // Exactly the messages ready when we declared: more may arrive while we
  // read, and a consumer cannot tell the end of a queue otherwise.
  out->reserve(ready);
  timeval tv = ToTimeval(opts_.timeout);
  while (out->size() < ready) {
    amqp_maybe_release_buffers(conn);
    amqp_envelope_t env;
    amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
      StoredMessage m = FromEnvelope(env);
      amqp_destroy_envelope(&env);
      out->push_back(std::move(m));
      continue;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // Some other method arrived first; a close ends the read.
      amqp_frame_t f;
      if (amqp_simple_wait_frame_noblock(conn, &f, &tv) != AMQP_STATUS_OK) {
        return fail(Status::Unavailable("rabbitmq read of " + topic + ": connection lost"));
      }
      if (f.frame_type == AMQP_FRAME_METHOD &&
          (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
           f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        return fail(
            Status::IOError("rabbitmq read of " + topic + ": " + CloseText(f.payload.method)));
      }
      continue;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
      return fail(Status::Unavailable("rabbitmq read of " + topic + ": " +
                                      std::to_string(out->size()) + " of " + std::to_string(ready) +
                                      " ready messages, then none within " +
                                      std::to_string(opts_.timeout.count()) + " ms"));
    }
    return fail(ReplyStatus(r, "rabbitmq read of " + topic));
  }
  // Never acked: closing the channels puts every one back in the queue.
  for (int i = 0; i < consumers; ++i) {
    const amqp_channel_t ch = static_cast<amqp_channel_t>(kReadChannel + i);
    s = ReplyStatus(amqp_channel_close(conn, ch, AMQP_REPLY_SUCCESS), "rabbitmq channel.close");
    if (!s.ok()) return fail(s);
  }
  amqp_maybe_release_buffers(conn);
  return Status::OK();
}

Status Client::Consume(const std::string& topic, std::chrono::milliseconds idle,
                       const std::function<Status(const StoredMessage&)>& handle,
                       uint64_t* handled) {
  *handled = 0;
  Status s = Declare(topic, nullptr);
  if (!s.ok()) return s;
  amqp_connection_state_t conn = impl_->conn;
  auto fail = [&](const Status& why) {
    Close();  // the server returns the unacked deliveries to the queue
    return why;
  };
  amqp_channel_open(conn, kReadChannel);
  s = ReplyStatus(amqp_get_rpc_reply(conn), "rabbitmq channel.open");
  if (!s.ok()) return fail(s);
  amqp_basic_qos(conn, kReadChannel, 0, 100, 0);
  s = ReplyStatus(amqp_get_rpc_reply(conn), "rabbitmq basic.qos");
  if (!s.ok()) return fail(s);
  amqp_basic_consume(conn, kReadChannel, Bytes(topic), amqp_empty_bytes, /*no_local=*/0,
                     /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
  s = ReplyStatus(amqp_get_rpc_reply(conn), "rabbitmq basic.consume " + topic);
  if (!s.ok()) return fail(s);
  timeval tv = ToTimeval(idle);
  for (;;) {
    amqp_maybe_release_buffers(conn);
    amqp_envelope_t env;
    amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
      StoredMessage m = FromEnvelope(env);
      const uint64_t tag = env.delivery_tag;
      amqp_destroy_envelope(&env);
      s = handle(m);
      if (!s.ok()) return fail(s);
      // Acked only after the handler's work committed: a crash in between
      // delivers the message again, which is what an inbox is for.
      int rc = amqp_basic_ack(conn, kReadChannel, tag, /*multiple=*/0);
      if (rc != AMQP_STATUS_OK) {
        return fail(
            Status::Unavailable(std::string("rabbitmq basic.ack: ") + amqp_error_string2(rc)));
      }
      ++*handled;
      continue;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
      break;  // idle: the queue is drained for now
    }
    return fail(ReplyStatus(r, "rabbitmq consume of " + topic));
  }
  s = ReplyStatus(amqp_channel_close(conn, kReadChannel, AMQP_REPLY_SUCCESS),
                  "rabbitmq channel.close");
  if (!s.ok()) return fail(s);
  return Status::OK();
}

Status Client::QueueCount(const std::string& topic, uint64_t* messages) {
  *messages = 0;
  return Declare(topic, messages);
}

Status Client::DeleteQueue(const std::string& topic) {
  if (!impl_) {
    Status s = Open();
    if (!s.ok()) return s;
  }
  amqp_queue_delete(impl_->conn, kPublishChannel, Bytes(topic), 0, 0);
  Status s = ReplyStatus(amqp_get_rpc_reply(impl_->conn), "rabbitmq queue.delete " + topic);
  if (!s.ok()) {
    Close();
    return s;
  }
  impl_->queues.erase(topic);
  return Status::OK();
}

}  // namespace dw::rabbitmq
