#include "compare/broker_tail.h"

#include <charconv>
#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>

#include "jetstream/client.h"
#include "jetstream/follower.h"
#include "participants/broker_client.h"
#include "rabbitmq/client.h"
#include "rabbitmq/follower.h"
#include "workload/orders.h"

namespace dw::compare {

using std::chrono::milliseconds;

BrokerTail::BrokerTail(std::string url, std::string topic, int64_t min_id, int64_t max_id)
    : url_(std::move(url)), topic_(std::move(topic)), min_id_(min_id), max_id_(max_id) {}

BrokerTail::~BrokerTail() { Stop(); }

void BrokerTail::Start() {
  thread_ = std::thread([this] {
    if (url_.starts_with("nats://")) {
      LoopNats();
    } else if (url_.starts_with("amqp://")) {
      LoopRabbitmq();
    } else {
      Loop();
    }
  });
}

void BrokerTail::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

namespace {

// Follows a log read by position from `from` until `stop`: `read(from, &batch,
// &next)` fetches what lies there, `on_batch(batch, now)` counts it, stamped
// when it is back. A failed read is retried after 50 ms (the broker down or
// slow is what some cells test); a caught-up one after 1 ms.
template <class Message, class Read, class OnBatch>
void FollowLog(const std::atomic<bool>& stop, uint64_t from, Read read, OnBatch on_batch) {
  std::vector<Message> batch;
  while (!stop) {
    batch.clear();
    uint64_t next = from;
    Status s = read(from, &batch, &next);
    if (!s.ok()) {
      std::this_thread::sleep_for(milliseconds(50));
      continue;
    }
    if (batch.empty()) {
      std::this_thread::sleep_for(milliseconds(1));
      continue;
    }
    on_batch(batch, workload::NowMicros());
    from = next;
  }
}

}  // namespace

template <class Message>
void BrokerTail::RecordBatch(const std::vector<Message>& batch, int64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& m : batch) Record(m.key, m.payload, now);
}

void BrokerTail::Loop() {
  std::unique_ptr<BrokerClient> client;
  BrokerClient::Options o;
  o.url = url_;
  o.timeout = milliseconds(2000);
  if (!BrokerClient::Create(o, &client).ok()) return;
  FollowLog<BrokerMessage>(
      stop_, 0,
      [&](uint64_t from, std::vector<BrokerMessage>* batch, uint64_t* next) {
        return client->Read(topic_, from, 1000, batch, next);
      },
      [this](const std::vector<BrokerMessage>& batch, int64_t now) { RecordBatch(batch, now); });
}

void BrokerTail::LoopNats() {
  jetstream::ClientOptions o;
  o.url = url_;
  o.timeout = milliseconds(2000);
  // One consumer for the whole cell, opened again from where it stopped
  // after an error. Each batch is what the server pushed since the last,
  // all of it stamped when taken; caught up, it waits (50 ms at most, to see
  // stop_) for the next message rather than polling.
  std::unique_ptr<jetstream::Follower> follower;
  std::unique_ptr<jetstream::Client> reader;  // for what the consumer did not push
  // Stream sequences [first, last] read by sequence and added to the batch.
  // A failure (the server unreachable) is handled as a failed Next: a new
  // consumer from where the last recorded batch ended.
  auto read_range = [&](uint64_t first, uint64_t last,
                        std::vector<jetstream::StoredMessage>* batch) -> Status {
    Status s;
    if (!reader) s = jetstream::Client::Connect(o, &reader);
    for (uint64_t at = first; s.ok() && at <= last;) {
      std::vector<jetstream::StoredMessage> missed;
      uint64_t after = at;
      s = reader->Read(topic_, at, last - at + 1, &missed, &after);
      if (!s.ok() || missed.empty() || after <= at) break;
      batch->insert(batch->end(), missed.begin(), missed.end());
      at = after;
    }
    if (!s.ok()) {
      follower.reset();
      reader.reset();
    }
    return s;
  };
  // A push consumer cannot tell a quiet stream from a server that stopped
  // pushing to it; that is what JetStream's idle heartbeats are for. The
  // tail checks the stream itself: caught up, once a second, it asks for
  // the stream's last sequence, and when the stream was ahead of the
  // consumer at two checks running with nothing pushed in between, it reads
  // the rest by sequence and opens a new consumer after it.
  using Clock = std::chrono::steady_clock;
  auto last_check = Clock::now();
  uint64_t ahead_at = 0;  // the consumer's position at a check that found the stream ahead
  FollowLog<jetstream::StoredMessage>(
      stop_, 1,
      [&](uint64_t from, std::vector<jetstream::StoredMessage>* batch, uint64_t* next) {
        if (!follower) {
          Status s = jetstream::Follower::Open(o, topic_, from, &follower);
          if (s.IsNotFound()) {
            // The relay creates the stream when it first publishes: look
            // again soon, so the cell's first messages are not stamped late.
            std::this_thread::sleep_for(milliseconds(5));
            return Status::OK();
          }
          if (!s.ok()) return s;
          ahead_at = 0;
        }
        Status s = follower->Next(512, milliseconds(50), batch);
        if (!s.ok()) {
          follower.reset();
          return s;
        }
        *next = follower->next_seq();
        // Messages the consumer skipped (none should be): read by sequence,
        // and counted with this batch.
        for (const auto& [first, last] : follower->TakeGaps()) {
          s = read_range(first, last, batch);
          if (!s.ok()) return s;
        }
        if (!batch->empty() || Clock::now() - last_check < std::chrono::seconds(1)) {
          return Status::OK();
        }
        last_check = Clock::now();
        uint64_t count = 0, last = 0;
        if (!reader) s = jetstream::Client::Connect(o, &reader);
        if (s.ok()) s = reader->StreamState(topic_, &count, &last);
        if (!s.ok()) {
          reader.reset();
          return Status::OK();  // the consumer goes on; the next check asks again
        }
        const uint64_t at = follower->next_seq();
        if (last < at) {
          ahead_at = 0;
        } else if (ahead_at != at) {
          ahead_at = at;
        } else {
          s = read_range(at, last, batch);
          if (!s.ok()) return s;
          *next = last + 1;
          follower.reset();  // the next call opens a consumer from there
        }
        return Status::OK();
      },
      [this](const std::vector<jetstream::StoredMessage>& batch, int64_t now) {
        RecordBatch(batch, now);
      });
}

// A consumer of the verified queue that takes each message once and holds it
// unacknowledged until the tail stops (rabbitmq/follower.h): O(n) over a
// cell, and each message read when any consumer of the queue could read it,
// after the quorum queue committed it. A queue of the tail's own fed a copy
// of each message (a fanout exchange in front of both) would leave the
// verified queue alone, but would stamp a copy readable before the quorum
// commit, and its copies would add work to the broker that the cell charges
// to the approach (the broker's CPU per operation).
void BrokerTail::LoopRabbitmq() {
  rabbitmq::ClientOptions o;
  o.url = url_;
  o.timeout = milliseconds(2000);
  std::unique_ptr<rabbitmq::Follower> follower;
  // Per order id, the copies the current follower returned: after a failed
  // one (the server then took its messages back), the next reads the queue
  // from its start, and a key counts only its copies beyond those an earlier
  // follower recorded (Record counts a key seen before as redundant).
  std::unordered_map<int64_t, uint32_t> copies;
  std::vector<rabbitmq::StoredMessage> batch;
  while (!stop_) {
    if (!follower) {
      copies.clear();
      if (!rabbitmq::Follower::Open(o, topic_, &follower).ok()) {
        follower.reset();
        std::this_thread::sleep_for(milliseconds(50));
        continue;
      }
    }
    // Waits for deliveries (10 ms at most, to see stop_): no polling pause.
    Status s = follower->Next(1000, milliseconds(10), &batch);
    if (!s.ok()) {
      follower.reset();
      browsed_ = 0;
      std::this_thread::sleep_for(milliseconds(50));
      continue;
    }
    browsed_ = follower->held();
    if (batch.empty()) continue;
    const int64_t now = workload::NowMicros();
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& m : batch) {
      int64_t id = 0;
      auto [p, ec] = std::from_chars(m.key.data(), m.key.data() + m.key.size(), id);
      if (ec != std::errc() || id < min_id_ || id > max_id_) continue;
      const uint32_t n = ++copies[id];
      auto it = seen_.find(id);
      if (it != seen_.end() && n <= it->second) continue;  // recorded before
      Record(m.key, m.payload, now);
    }
  }
}

void BrokerTail::Record(const std::string& key, const std::string& payload, int64_t now) {
  int64_t id = 0;
  auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
  if (ec != std::errc() || id < min_id_ || id > max_id_) return;
  if (++seen_[id] > 1) {
    ++redundant_;
    return;
  }
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_object() && j.contains("placed_at_us") && j["placed_at_us"].is_number_integer()) {
    const int64_t placed = j["placed_at_us"].get<int64_t>();
    e2e_.Record(now - placed);
    arrivals_.emplace_back(placed, now);
  }
}

uint64_t BrokerTail::unique() const {
  std::lock_guard<std::mutex> l(mu_);
  return seen_.size();
}

uint64_t BrokerTail::redundant() const {
  std::lock_guard<std::mutex> l(mu_);
  return redundant_;
}

Histogram BrokerTail::e2e() const {
  std::lock_guard<std::mutex> l(mu_);
  return e2e_;
}

bool BrokerTail::SeenAll(const std::vector<int64_t>& ids) const {
  std::lock_guard<std::mutex> l(mu_);
  for (int64_t id : ids) {
    if (!seen_.count(id)) return false;
  }
  return true;
}

std::vector<std::pair<int64_t, int64_t>> BrokerTail::Arrivals() const {
  std::lock_guard<std::mutex> l(mu_);
  return arrivals_;
}

}  // namespace dw::compare
