// BrokerTail: a consumer that reads the topic as it grows, the way a real
// subscriber would, and stamps each message with the moment it was first
// readable. End-to-end latency = that moment - the order's placed_at_us (in
// the payload, set when the business operation started), for 2PC and the
// outbox alike. On dualwrite's broker it polls with a 1 ms pause when caught
// up, so the figure includes up to ~1 ms of polling delay on top of the
// real one; on a real sink (below) it waits for the broker to send.
//
// Only keys (order ids) inside [min_id, max_id] are counted, so cells can
// share a broker. Thread-safe.
//
// With a real sink (compare/sink.h) the url is the sink's, and the tail
// reads as a subscriber of that broker would, each message once:
//  - nats:// follows the topic's JetStream stream from sequence 1 with a
//    consumer of its own (jetstream/follower.h: an ephemeral push consumer,
//    no acks), batches of up to 512 of what it pushed that, caught up, wait for
//    the next message to be stored rather than polling (and, once a second,
//    check that the stream holds nothing the consumer has not pushed);
//  - amqp:// consumes the quorum queue and keeps every message it took
//    unacknowledged (rabbitmq/follower.h), so verify still finds them all
//    once the tail stopped, and waits for deliveries rather than polling.
//    The tail must be stopped before verify reads the queue: a message the
//    tail holds is invisible to any other reader.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/histogram.h"

namespace dw::compare {

class BrokerTail {
 public:
  BrokerTail(std::string url, std::string topic, int64_t min_id, int64_t max_id);
  ~BrokerTail();  // stops the thread

  void Start();
  void Stop();

  uint64_t unique() const;     // distinct order ids read
  uint64_t redundant() const;  // messages whose key was already read (should stay 0)
  Histogram e2e() const;       // µs
  bool SeenAll(const std::vector<int64_t>& ids) const;
  // Messages read so far whose placed_at_us lies in [from_us, to_us).
  std::vector<std::pair<int64_t, int64_t>> Arrivals() const;  // (placed_at_us, read_at_us)
  // amqp://: how many messages (every key, every copy) the tail holds, or
  // held when it stopped and handed them back to the queue; 0 otherwise.
  uint64_t browsed() const { return browsed_; }

 private:
  void Loop();          // dualwrite's broker
  void LoopNats();      // nats://
  void LoopRabbitmq();  // amqp://
  // Counts one message read now (`now`, unix µs); mu_ held.
  void Record(const std::string& key, const std::string& payload, int64_t now);
  // Record for each message of a batch read now (key, payload members).
  template <class Message>
  void RecordBatch(const std::vector<Message>& batch, int64_t now);

  const std::string url_, topic_;
  const int64_t min_id_, max_id_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> browsed_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  std::unordered_map<int64_t, uint32_t> seen_;
  uint64_t redundant_ = 0;
  Histogram e2e_;
  std::vector<std::pair<int64_t, int64_t>> arrivals_;
};

}  // namespace dw::compare
