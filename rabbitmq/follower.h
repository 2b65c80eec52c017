// Follower: reads a topic's quorum queue as it grows, the way a subscriber
// does, without taking anything away: one consumer (basic.consume, manual
// acknowledgement) that takes each message once and never acks it. The
// server keeps every message it delivered to the Follower as unacknowledged
// and returns them all to the queue when the Follower's connection closes;
// a reader after that (verify) finds the queue whole.
// Until then they are invisible to any other consumer: stop the Follower
// before reading the queue another way.
//
// Each message is read once, so following n messages costs O(n); reading
// the whole queue again each time it grew (Client::Read) costs O(n^2).
// Deliveries come after the quorum queue committed them (fsynced by a
// majority), as they would to any consumer of the queue.
//
// A consumer holds at most its prefetch count of unacknowledged messages
// (16 bits), so a Follower opens another consumer, on a channel of its own,
// before its consumers run out of room: some 65,000 messages each.
//
// Returned messages count as delivered once: the queues here have no
// delivery limit (RabbitMQ 3.10 sets none by default); one with
// x-delivery-limit could drop a message this returned that often. A
// delivery held past the server's consumer_timeout (30 min by default)
// closes its channel: Next fails, and a new Follower reads the queue from
// its start again.
//
// Not thread-safe: one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "rabbitmq/client.h"

namespace dw::rabbitmq {

class Follower {
 public:
  ~Follower();  // closes the connection: the server returns every message held

  // Declares the topic's queue (as Client::EnsureQueue does, so it may start
  // before the first publish) and starts consuming it on a connection of its
  // own (opts.url, opts.timeout).
  static Status Open(const ClientOptions& opts, const std::string& topic,
                     std::unique_ptr<Follower>* out);

  // Waits up to `wait` for a delivery, then takes the ones already here, up
  // to `max` in all; an empty batch: none came within `wait`. After an error
  // the Follower is spent (the server has taken its messages back): open a
  // new one.
  Status Next(size_t max, std::chrono::milliseconds wait, std::vector<StoredMessage>* out);

  // Deliveries taken so far (every copy), all still held.
  uint64_t held() const { return held_; }

 private:
  struct Impl;
  Follower(const ClientOptions& opts, std::string topic);
  Status AddConsumer();

  ClientOptions opts_;
  std::string topic_;
  uint64_t held_ = 0;
  int consumers_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dw::rabbitmq
