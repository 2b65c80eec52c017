#include "rabbitmq/amqp_util.h"

#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include "rabbitmq/url.h"

namespace dw::rabbitmq {

timeval ToTimeval(std::chrono::milliseconds ms) {
  if (ms.count() < 1) ms = std::chrono::milliseconds(1);
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

amqp_bytes_t Bytes(const std::string& s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());
  return b;
}

std::string Str(amqp_bytes_t b) {
  return b.bytes ? std::string(static_cast<const char*>(b.bytes), b.len) : std::string();
}

std::string CloseText(const amqp_method_t& m) {
  if (m.id == AMQP_CHANNEL_CLOSE_METHOD) {
    auto* c = static_cast<amqp_channel_close_t*>(m.decoded);
    return "channel closed by the server: " + std::to_string(c->reply_code) + " " +
           Str(c->reply_text);
  }
  if (m.id == AMQP_CONNECTION_CLOSE_METHOD) {
    auto* c = static_cast<amqp_connection_close_t*>(m.decoded);
    return "connection closed by the server: " + std::to_string(c->reply_code) + " " +
           Str(c->reply_text);
  }
  return "unexpected method " + std::to_string(m.id);
}

Status ReplyStatus(const amqp_rpc_reply_t& r, const std::string& what) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return Status::OK();
    case AMQP_RESPONSE_NONE:
      return Status::IOError(what + ": no reply");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return Status::Unavailable(what + ": " + amqp_error_string2(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      return Status::IOError(what + ": " + CloseText(r.reply));
  }
  return Status::IOError(what + ": unknown reply");
}

StoredMessage FromEnvelope(const amqp_envelope_t& env) {
  StoredMessage m;
  const amqp_basic_properties_t& p = env.message.properties;
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) m.id = Str(p.message_id);
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const amqp_table_entry_t& e = p.headers.entries[i];
      if (Str(e.key) == kKeyHeader &&
          (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES)) {
        m.key = Str(e.value.value.bytes);
      }
    }
  }
  m.payload = Str(env.message.body);
  m.redelivered = env.redelivered != 0;
  return m;
}

Status OpenConnection(const ClientOptions& opts, amqp_connection_state_t* out, bool cancel_notify) {
  *out = nullptr;
  AmqpAddress a;
  Status s = ParseAmqpUrl(opts.url, &a);
  if (!s.ok()) return s;
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* sock = amqp_tcp_socket_new(conn);
  if (sock == nullptr) {
    amqp_destroy_connection(conn);
    return Status::IOError("rabbitmq: cannot create a socket");
  }
  timeval tv = ToTimeval(opts.timeout);
  int rc = amqp_socket_open_noblock(sock, a.host.c_str(), a.port, &tv);
  if (rc != AMQP_STATUS_OK) {
    amqp_destroy_connection(conn);
    return Status::Unavailable("rabbitmq: cannot connect to " + a.host + ":" +
                               std::to_string(a.port) + ": " + amqp_error_string2(rc));
  }
  // Without an RPC timeout a server that stops answering blocks every call.
  amqp_set_rpc_timeout(conn, &tv);
  // Heartbeat 0: a relay may sit idle between batches, and librabbitmq only
  // answers heartbeats while it is inside one of its calls.
  // librabbitmq merges these capabilities into its own.
  amqp_table_entry_t cap;
  cap.key = amqp_cstring_bytes("consumer_cancel_notify");
  cap.value.kind = AMQP_FIELD_KIND_BOOLEAN;
  cap.value.value.boolean = 1;
  amqp_table_entry_t prop;
  prop.key = amqp_cstring_bytes("capabilities");
  prop.value.kind = AMQP_FIELD_KIND_TABLE;
  prop.value.value.table.num_entries = 1;
  prop.value.value.table.entries = &cap;
  amqp_table_t props;
  props.num_entries = cancel_notify ? 1 : 0;
  props.entries = &prop;
  s = ReplyStatus(
      amqp_login_with_properties(conn, a.vhost.c_str(), 0, 131072, 0, &props,
                                 AMQP_SASL_METHOD_PLAIN, a.user.c_str(), a.password.c_str()),
      "rabbitmq login (vhost " + a.vhost + ")");
  if (!s.ok()) {
    // No polite close: closing the socket is enough for the server.
    amqp_destroy_connection(conn);
    return s;
  }
  *out = conn;
  return Status::OK();
}

}  // namespace dw::rabbitmq
