#include "compare/history.h"

#include <charconv>
#include <chrono>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include <pqxx/pqxx>

#include "participants/broker_client.h"
#include "saga/events.h"
#include "workload/orders.h"

namespace dw::compare {

results::History HistoryReport::ToResults() const {
  results::History h;
  h.ok = ok();
  h.acknowledged = acknowledged;
  h.ack_missing_row = ack_missing_row;
  h.ack_missing_message = ack_missing_message;
  h.ack_duplicated = ack_duplicated;
  h.aborted = aborted;
  h.aborted_with_row = aborted_with_row;
  h.aborted_with_message = aborted_with_message;
  h.unknown = unknown;
  h.unknown_committed = unknown_committed;
  h.unknown_split = unknown_split;
  h.examples = examples;
  return h;
}

Status CheckHistory(const std::vector<SampleRow>& samples, const std::string& dsn,
                    const std::string& broker_url, int64_t min_id, int64_t max_id, bool saga,
                    HistoryReport* out) {
  *out = HistoryReport();
  std::unordered_set<int64_t> rows;
  try {
    pqxx::connection c{dsn};
    pqxx::nontransaction tx{c};
    const char* sql = saga ? "SELECT order_id FROM saga_orders WHERE status = 'placed'"
                             " AND order_id BETWEEN $1 AND $2"
                           : "SELECT id FROM orders WHERE id BETWEEN $1 AND $2";
    for (const auto& r : tx.exec_params(sql, min_id, max_id)) {
      rows.insert(r[0].as<int64_t>());
    }
  } catch (const std::exception& e) {
    return Status::IOError(std::string("history: reading orders: ") + e.what());
  }
  std::unordered_map<int64_t, uint32_t> messages;
  std::unordered_set<int64_t> retracted;  // saga: order ids with an OrderCancelled
  const bool judge_messages = !broker_url.empty();
  if (judge_messages) {
    std::unique_ptr<BrokerClient> b;
    BrokerClient::Options bo;
    bo.url = broker_url;
    bo.timeout = std::chrono::milliseconds(30000);
    Status s = BrokerClient::Create(bo, &b);
    if (!s.ok()) return s;
    uint64_t from = 0;
    for (;;) {
      std::vector<BrokerMessage> batch;
      uint64_t next = from;
      s = b->Read(workload::kOrdersTopic, from, 10000, &batch, &next);
      if (!s.ok()) return s;
      if (batch.empty()) break;
      for (const auto& m : batch) {
        int64_t id = 0;
        auto [p, ec] = std::from_chars(m.key.data(), m.key.data() + m.key.size(), id);
        if (ec != std::errc() || id < min_id || id > max_id) continue;
        if (saga && m.id.ends_with(saga::kCancelledIdSuffix)) {
          retracted.insert(id);
        } else {
          ++messages[id];
        }
      }
      from = next;
    }
    for (int64_t id : retracted) messages.erase(id);
  }
  // Counts a broken rule and remembers a few keys to look at.
  auto broke = [out](uint64_t* counter, int64_t key) {
    ++*counter;
    if (out->examples.size() < 10) out->examples.push_back(key);
  };
  for (const auto& s : samples) {
    if (s.key == 0) continue;  // no order id was allocated: nothing was written
    const bool row = rows.count(s.key) > 0;
    const uint32_t n = judge_messages ? (messages.count(s.key) ? messages[s.key] : 0) : 0;
    switch (s.outcome) {
      case 'c':
        ++out->acknowledged;
        if (!row) broke(&out->ack_missing_row, s.key);
        if (judge_messages && n == 0) broke(&out->ack_missing_message, s.key);
        if (n > 1) broke(&out->ack_duplicated, s.key);
        break;
      case 'a':
        ++out->aborted;
        if (row) broke(&out->aborted_with_row, s.key);
        if (n > 0) broke(&out->aborted_with_message, s.key);
        break;
      default:
        ++out->unknown;
        if (row) ++out->unknown_committed;
        if (judge_messages && row != (n > 0)) broke(&out->unknown_split, s.key);
        break;
    }
  }
  return Status::OK();
}

}  // namespace dw::compare
