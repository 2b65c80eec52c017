#include "compare/broker_tail.h"

#include <charconv>
#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>

#include "participants/broker_client.h"
#include "workload/orders.h"

namespace dw::compare {

using std::chrono::milliseconds;

BrokerTail::BrokerTail(std::string url, std::string topic, int64_t min_id, int64_t max_id)
    : url_(std::move(url)), topic_(std::move(topic)), min_id_(min_id), max_id_(max_id) {}

BrokerTail::~BrokerTail() { Stop(); }

void BrokerTail::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void BrokerTail::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void BrokerTail::Loop() {
  std::unique_ptr<BrokerClient> client;
  BrokerClient::Options o;
  o.url = url_;
  o.timeout = milliseconds(2000);
  if (!BrokerClient::Create(o, &client).ok()) return;
  uint64_t from = 0;
  std::vector<BrokerMessage> batch;
  while (!stop_) {
    batch.clear();
    uint64_t next = from;
    Status s = client->Read(topic_, from, 1000, &batch, &next);
    if (!s.ok()) {  // the broker is down or slow: that is what some cells test
      std::this_thread::sleep_for(milliseconds(50));
      continue;
    }
    if (batch.empty()) {
      std::this_thread::sleep_for(milliseconds(1));
      continue;
    }
    const int64_t now = workload::NowMicros();
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& m : batch) {
      int64_t id = 0;
      auto [p, ec] = std::from_chars(m.key.data(), m.key.data() + m.key.size(), id);
      if (ec != std::errc() || id < min_id_ || id > max_id_) continue;
      if (++seen_[id] > 1) {
        ++redundant_;
        continue;
      }
      auto j = nlohmann::json::parse(m.payload, nullptr, false);
      if (j.is_object() && j.contains("placed_at_us") && j["placed_at_us"].is_number_integer()) {
        const int64_t placed = j["placed_at_us"].get<int64_t>();
        e2e_.Record(now - placed);
        arrivals_.emplace_back(placed, now);
      }
    }
    from = next;
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
