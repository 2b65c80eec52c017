#include "compare/broker_tail.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "jetstream/client.h"
#include "participants/broker_client.h"
#include "rabbitmq/client.h"
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
      [this](const std::vector<BrokerMessage>& batch, int64_t now) {
        std::lock_guard<std::mutex> l(mu_);
        for (const auto& m : batch) Record(m.key, m.payload, now);
      });
}

void BrokerTail::LoopNats() {
  std::unique_ptr<jetstream::Client> client;
  jetstream::ClientOptions o;
  o.url = url_;
  o.timeout = milliseconds(2000);
  if (!jetstream::Client::Connect(o, &client).ok()) return;
  // One request per message (the client's Read), all stamped when the batch
  // is back: small batches keep that stamp close to each message's.
  FollowLog<jetstream::StoredMessage>(
      stop_, 1,
      [&](uint64_t from, std::vector<jetstream::StoredMessage>* batch, uint64_t* next) {
        return client->Read(topic_, from, 64, batch, next);
      },
      [this](const std::vector<jetstream::StoredMessage>& batch, int64_t now) {
        std::lock_guard<std::mutex> l(mu_);
        for (const auto& m : batch) Record(m.key, m.payload, now);
      });
}

void BrokerTail::LoopRabbitmq() {
  rabbitmq::ClientOptions o;
  o.url = url_;
  o.timeout = milliseconds(2000);
  std::unique_ptr<rabbitmq::Client> counter;  // QueueCount only
  uint64_t known = 0;                         // distinct messages of the last full read
  std::vector<rabbitmq::StoredMessage> all;
  while (!stop_) {
    uint64_t count = 0;
    Status s =
        counter ? counter->QueueCount(topic_, &count) : rabbitmq::Client::Connect(o, &counter);
    if (!s.ok() || !counter) {
      counter.reset();
      std::this_thread::sleep_for(milliseconds(50));
      continue;
    }
    if (count <= known) {
      std::this_thread::sleep_for(milliseconds(5));
      continue;
    }
    // A connection per read: deliveries already buffered for a closed
    // read's channel would otherwise come back in the next read on the
    // same channel number, in place of messages it then misses.
    std::unique_ptr<rabbitmq::Client> reader;
    s = rabbitmq::Client::Connect(o, &reader);
    if (s.ok()) s = reader->Read(topic_, &all);
    reader.reset();  // hands every message back
    if (!s.ok()) {
      std::this_thread::sleep_for(milliseconds(50));
      continue;
    }
    const int64_t now = workload::NowMicros();
    std::unordered_set<std::string> ids;  // a copy delivered twice in one read counts once
    std::lock_guard<std::mutex> l(mu_);
    // Every message again: a key counts only its copies beyond those an
    // earlier read recorded (Record counts a key seen before as redundant).
    std::unordered_map<int64_t, uint32_t> copies;
    for (const auto& m : all) {
      if (!m.id.empty() && !ids.insert(m.id).second) continue;
      int64_t id = 0;
      auto [p, ec] = std::from_chars(m.key.data(), m.key.data() + m.key.size(), id);
      if (ec != std::errc() || id < min_id_ || id > max_id_) continue;
      const uint32_t n = ++copies[id];
      auto it = seen_.find(id);
      if (it != seen_.end() && n <= it->second) continue;  // read before
      Record(m.key, m.payload, now);
    }
    // Short of the count (copies in place of others): read again.
    known = ids.size() == all.size() ? all.size() : std::min<uint64_t>(ids.size(), count - 1);
    browsed_ = known;
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
