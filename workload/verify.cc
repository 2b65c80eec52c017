#include "workload/verify.h"

#include <algorithm>
#include <charconv>
#include <pqxx/pqxx>
#include <unordered_map>
#include <unordered_set>

#include "participants/broker_client.h"

namespace dw::workload {
namespace {

template <typename T>
std::string List(const std::vector<T>& v, size_t max) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < max; ++i) {
    if (i) out += ", ";
    if constexpr (std::is_same_v<T, std::string>) {
      out += v[i];
    } else {
      out += std::to_string(v[i]);
    }
  }
  if (v.size() > max) out += ", ... (" + std::to_string(v.size() - max) + " more)";
  return out;
}

}  // namespace

nlohmann::json VerifyReport::ToJson() const {
  return {{"ok", ok()},
          {"rows", rows},
          {"messages", messages},
          {"missing", missing},
          {"orphans", orphans},
          {"duplicates", duplicates},
          {"foreign_keys", foreign_keys},
          {"prepared_postgres", prepared_postgres},
          {"prepared_broker", prepared_broker}};
}

std::string VerifyReport::ToText(size_t max) const {
  std::string out =
      "rows " + std::to_string(rows) + ", messages " + std::to_string(messages) + "\n";
  auto line = [&](const char* what, const auto& v) {
    out += std::string(what) + ": " + std::to_string(v.size());
    if (!v.empty()) out += " [" + List(v, max) + "]";
    out += "\n";
  };
  line("missing messages (row, no message)", missing);
  line("orphan messages (message, no row)", orphans);
  line("duplicate messages", duplicates);
  if (!foreign_keys.empty()) line("messages whose key is not an order id", foreign_keys);
  line("prepared at Postgres", prepared_postgres);
  line("prepared at the broker", prepared_broker);
  out += ok() ? "verify: OK\n" : "verify: VIOLATIONS\n";
  return out;
}

Status Verify(const VerifyOptions& opts, VerifyReport* r) {
  *r = VerifyReport{};
  std::unordered_set<int64_t> rows;
  try {
    pqxx::connection c{opts.dsn};
    pqxx::read_transaction tx{c};
    auto exists = tx.exec1("SELECT to_regclass('orders') IS NOT NULL")[0].as<bool>();
    if (exists) {
      // Read the keys with COPY-like streaming: a large table must not be buffered as a result set
      // twice.
      pqxx::stream_from s{tx, "orders", std::vector<std::string>{"id"}};
      // libpqxx 6.4's `s >> tuple` fails on one-column lines ("Too few
      // fields"): its raw line keeps the trailing newline. Parse it here.
      std::string line;
      while (s.get_raw_line(line)) {
        int64_t id = 0;
        auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), id);
        if (ec != std::errc()) throw std::runtime_error("orders.id: unexpected COPY line: " + line);
        if (id >= opts.min_id && id <= opts.max_id) rows.insert(id);
      }
      s.complete();
    }
    for (const auto& row : tx.exec("SELECT gid FROM pg_prepared_xacts WHERE database = "
                                   "current_database() ORDER BY gid")) {
      r->prepared_postgres.push_back(row[0].as<std::string>());
    }
    tx.commit();
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(std::string("cannot connect to Postgres: ") + e.what());
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading orders: ") + e.what());
  }
  r->rows = rows.size();

  std::unique_ptr<BrokerClient> broker;
  BrokerClient::Options bo;
  bo.url = opts.broker_url;
  bo.timeout = std::chrono::milliseconds(30000);
  Status s = BrokerClient::Create(bo, &broker);
  if (!s.ok()) return s;
  std::unordered_map<int64_t, uint32_t> seen;
  uint64_t from = 0;
  for (;;) {
    std::vector<BrokerMessage> batch;
    uint64_t next = from;
    s = broker->Read(opts.topic, from, 10000, &batch, &next);
    if (!s.ok()) return s;
    if (batch.empty()) break;
    for (const auto& m : batch) {
      int64_t id = 0;
      auto [p, ec] = std::from_chars(m.key.data(), m.key.data() + m.key.size(), id);
      if (ec != std::errc() || p != m.key.data() + m.key.size()) {
        ++r->messages;
        r->foreign_keys.push_back(m.key);
        continue;
      }
      if (id < opts.min_id || id > opts.max_id) continue;
      ++r->messages;
      if (++seen[id] == 2) r->duplicates.push_back(id);
    }
    from = next;
  }
  for (int64_t id : rows) {
    if (!seen.count(id)) r->missing.push_back(id);
  }
  for (const auto& [id, n] : seen) {
    if (!rows.count(id)) r->orphans.push_back(id);
  }
  std::sort(r->missing.begin(), r->missing.end());
  std::sort(r->orphans.begin(), r->orphans.end());
  std::sort(r->duplicates.begin(), r->duplicates.end());

  std::vector<BrokerPrepared> prepared;
  s = broker->ListPrepared(&prepared);
  if (!s.ok()) return s;
  for (const auto& p : prepared) r->prepared_broker.push_back(p.gid);
  std::sort(r->prepared_broker.begin(), r->prepared_broker.end());
  return Status::OK();
}

}  // namespace dw::workload
