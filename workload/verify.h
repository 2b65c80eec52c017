// Verify: the atomicity check every approach is judged by. It compares the
// `orders` table with the broker's topic by key (the order id):
//   missing    a row without a message  (the message was lost, or not yet sent)
//   orphan     a message without a row  (the write was rolled back, the message escaped)
//   duplicate  a key carried by more than one message
//   in doubt   prepared transactions left at Postgres or at the broker
// Any of them is a violation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dw::workload {

struct VerifyOptions {
  std::string dsn;
  std::string broker_url;
  std::string topic = "orders";
  size_t max_listed = 20;  // keys named per category in text output (JSON has them all)
  // Only order ids in [min_id, max_id] are judged; rows and messages outside
  // are ignored (several experiments sharing one broker, each with its own
  // id range: `compare --broker URL`).
  int64_t min_id = 0;
  int64_t max_id = INT64_MAX;
};

struct VerifyReport {
  uint64_t rows = 0;
  uint64_t messages = 0;
  std::vector<int64_t> missing;                // order ids with a row and no message
  std::vector<int64_t> orphans;                // order ids with a message and no row
  std::vector<int64_t> duplicates;             // order ids carried by more than one message
  std::vector<std::string> foreign_keys;       // message keys that are not order ids
  std::vector<std::string> prepared_postgres;  // gids in pg_prepared_xacts (this database)
  std::vector<std::string> prepared_broker;    // gids prepared at the broker

  bool ok() const {
    return missing.empty() && orphans.empty() && duplicates.empty() && foreign_keys.empty() &&
           prepared_postgres.empty() && prepared_broker.empty();
  }
  nlohmann::json ToJson() const;
  std::string ToText(size_t max_listed) const;
};

Status Verify(const VerifyOptions& opts, VerifyReport* out);

}  // namespace dw::workload
