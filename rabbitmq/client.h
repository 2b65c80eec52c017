// Client: one AMQP 0-9-1 connection to a RabbitMQ server, for publishing a
// relay's batch and for reading a queue back (verify).
//
// A topic is one durable QUORUM queue of the same name (x-queue-type =
// quorum), published to through the default exchange with the topic as the
// routing key. Each message is persistent, its message-id property is the
// event id and its key travels in the `dw-key` header.
//
// Publishing uses publisher confirms (confirm.select on the channel): the
// server acknowledges each message by its delivery tag, and for a quorum
// queue an ack means the message was written and fsynced by a majority of
// the queue's members (here one node: its own disk). A batch is OK only when
// every message of it was acked. A nack, a message returned as unroutable
// (published mandatory: a queue deleted behind our back would otherwise
// drop it and still ack), a channel or connection closed by the server, or
// no ack within the timeout fails the batch, and the relay keeps its rows.
// Some of its messages may then be stored: RabbitMQ has no broker-side
// deduplication, so publishing the batch again delivers them twice, and the
// consumer must deduplicate by message-id.
//
// Not thread-safe: one owner (one relay instance, one verify).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace dw::rabbitmq {

struct ClientOptions {
  std::string url;  // amqp://USER:PASS@127.0.0.1:PORT/VHOST
  // Connecting, each request, the wait for a batch's confirms, and (Read)
  // for each delivery.
  std::chrono::milliseconds timeout{5000};
};

struct OutMessage {
  std::string id;  // message-id: the event id
  std::string key;
  std::string payload;
};

struct StoredMessage {
  std::string id;  // its message-id
  std::string key;
  std::string payload;
  bool redelivered = false;  // delivered before (an earlier Read, or another consumer)
};

class Client {
 public:
  ~Client();
  static Status Connect(const ClientOptions& opts, std::unique_ptr<Client>* out);

  // Declares the topic's durable quorum queue (creating it when missing).
  // Remembered per topic for this connection. A queue of that name that is
  // not a quorum queue is an error (the server closes the channel with
  // PRECONDITION_FAILED).
  Status EnsureQueue(const std::string& topic);

  // Publishes `msgs` to the topic's queue and waits for the confirm of each.
  // OK only when every one was acked. After an error the connection is
  // dropped and the next call reconnects.
  Status Publish(const std::string& topic, const std::vector<OutMessage>& msgs);

  // Every message ready in the topic's queue, in delivery order, without
  // taking them away: they are consumed with manual acknowledgement and
  // never acked, and closing the consuming channel returns them all to the
  // queue. A queue that does not exist reads as empty.
  Status Read(const std::string& topic, std::vector<StoredMessage>* out);

  // Consumes the topic's queue: `handle` for each delivery, and its ack only
  // once `handle` returned OK (so a consumer that dies before acking gets
  // the message again). Returns after `idle` without a delivery, *handled
  // the messages acked; a failed `handle` stops it, and its message and any
  // other unacked ones go back to the queue.
  Status Consume(const std::string& topic, std::chrono::milliseconds idle,
                 const std::function<Status(const StoredMessage&)>& handle, uint64_t* handled);

  // Messages ready in the topic's queue (0 when it does not exist).
  Status QueueCount(const std::string& topic, uint64_t* messages);

  // Deletes the topic's queue and its messages (tests start from empty).
  Status DeleteQueue(const std::string& topic);

  const ClientOptions& options() const { return opts_; }

 private:
  struct Impl;
  explicit Client(const ClientOptions& opts);
  Status Open();
  void Close();
  Status Declare(const std::string& topic, uint64_t* ready);

  ClientOptions opts_;
  std::unique_ptr<Impl> impl_;
};

// The header carrying an event's key.
inline constexpr const char* kKeyHeader = "dw-key";

}  // namespace dw::rabbitmq
