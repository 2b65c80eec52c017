// What a run of `--events-per-order E` must leave at the broker: for every
// order, the messages order-<id>, order-<id>-2, ..., order-<id>-E, each
// once, read in that order (offset order) under the key <id>.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "participants/broker_client.h"
#include "workload/order_events.h"

namespace dw::testing {

// Every message of `topic` from offset 0.
inline Status ReadWholeTopic(BrokerClient& client, const std::string& topic,
                             std::vector<BrokerMessage>* out) {
  out->clear();
  uint64_t from = 0;
  for (;;) {
    std::vector<BrokerMessage> batch;
    uint64_t next = 0;
    Status s = client.Read(topic, from, 1000, &batch, &next);
    if (!s.ok()) return s;
    if (batch.empty()) return Status::OK();
    out->insert(out->end(), batch.begin(), batch.end());
    from = next;
  }
}

// "" when `messages` (in offset order) carry exactly events 1..`events` of
// each order of `orders` once, in version order per key, and nothing else;
// else the first problems found, one per line.
inline std::string OrderEventsProblems(const std::vector<BrokerMessage>& messages,
                                       const std::set<int64_t>& orders, int events) {
  std::string problems;
  auto add = [&](const std::string& p) {
    if (problems.size() < 2000) problems += p + "\n";
  };
  std::map<int64_t, std::vector<int>> versions;  // per order, in offset order
  std::set<std::string> ids;
  for (const BrokerMessage& m : messages) {
    if (!ids.insert(m.id).second) add("message id " + m.id + " read twice");
    const int64_t order = std::stoll(m.key);
    if (!orders.count(order)) {
      add("message " + m.id + " of an unexpected order " + m.key);
      continue;
    }
    versions[order].push_back(workload::OrderEventVersion(m.id, order));
  }
  std::vector<int> want;
  for (int n = 1; n <= events; ++n) want.push_back(n);
  for (int64_t order : orders) {
    for (int n = 1; n <= events; ++n) {
      if (!ids.count(workload::OrderEventMessageId(order, n))) {
        add("no message " + workload::OrderEventMessageId(order, n));
      }
    }
    if (versions[order] != want) {
      std::string got;
      for (int v : versions[order]) got += " " + std::to_string(v);
      add("order " + std::to_string(order) + " read versions" + got);
    }
  }
  return problems;
}

}  // namespace dw::testing
