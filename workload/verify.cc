#include "workload/verify.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <pqxx/pqxx>
#include <unordered_map>
#include <unordered_set>

#include "jetstream/client.h"
#include "participants/broker_client.h"
#include "rabbitmq/client.h"
#include "workload/order_events.h"

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

// A client for reading the whole topic: a long deadline, since a read of
// 10,000 messages from a busy broker may take seconds.
Status OpenReader(const VerifyOptions& opts, std::unique_ptr<BrokerClient>* out) {
  BrokerClient::Options bo;
  bo.url = opts.broker_url;
  bo.timeout = std::chrono::milliseconds(30000);
  return BrokerClient::Create(bo, out);
}

// Where the topic is read from: dualwrite's broker, or the JetStream stream
// of the same name (opts.nats_url), whose sequences stand in for offsets.
class TopicReader {
 public:
  Status Open(const VerifyOptions& opts) {
    if (!opts.amqp_url.empty()) {
      rabbitmq::ClientOptions co;
      co.url = opts.amqp_url;
      co.timeout = std::chrono::milliseconds(30000);
      return rabbitmq::Client::Connect(co, &rabbit_);
    }
    if (opts.nats_url.empty()) return OpenReader(opts, &broker_);
    jetstream::ClientOptions co;
    co.url = opts.nats_url;
    co.timeout = std::chrono::milliseconds(30000);
    return jetstream::Client::Connect(co, &nats_);
  }
  Status Read(const std::string& topic, uint64_t from, std::vector<BrokerMessage>* batch,
              uint64_t* next) {
    if (broker_) return broker_->Read(topic, from, 10000, batch, next);
    if (rabbit_) return ReadRabbitmq(topic, from, batch, next);
    std::vector<jetstream::StoredMessage> stored;
    Status s = nats_->Read(topic, from, 10000, &stored, next);
    if (!s.ok()) return s;
    batch->clear();
    for (auto& m : stored) {
      BrokerMessage b;
      b.offset = m.seq;
      b.id = std::move(m.id);
      b.key = std::move(m.key);
      b.payload = std::move(m.payload);
      batch->push_back(std::move(b));
    }
    return Status::OK();
  }
  // Null when reading JetStream or RabbitMQ, which cannot prepare.
  BrokerClient* broker() { return broker_.get(); }

 private:
  // A queue has no offsets: the first call reads every message ready in
  // it, numbered 1.. in delivery order, and the next one finds the end.
  Status ReadRabbitmq(const std::string& topic, uint64_t from, std::vector<BrokerMessage>* batch,
                      uint64_t* next) {
    batch->clear();
    if (from > 0) return Status::OK();
    std::vector<rabbitmq::StoredMessage> got;
    Status s = rabbit_->Read(topic, &got);
    if (!s.ok()) return s;
    for (auto& m : got) {
      BrokerMessage b;
      b.offset = batch->size() + 1;
      b.id = std::move(m.id);
      b.key = std::move(m.key);
      b.payload = std::move(m.payload);
      batch->push_back(std::move(b));
    }
    *next = batch->size() + 1;
    return Status::OK();
  }

  std::unique_ptr<BrokerClient> broker_;
  std::unique_ptr<jetstream::Client> nats_;
  std::unique_ptr<rabbitmq::Client> rabbit_;
};

// Reads opts.topic from its first offset to its end and calls visit(m, id)
// for each message: id is the order id its key names, or nullopt when the key
// is not an order id; messages of orders outside [min_id, max_id] are skipped.
template <typename Visit>
Status ScanOrderTopic(TopicReader& reader, const VerifyOptions& opts, Visit visit) {
  uint64_t from = 0;
  for (;;) {
    std::vector<BrokerMessage> batch;
    uint64_t next = from;
    Status s = reader.Read(opts.topic, from, &batch, &next);
    if (!s.ok()) return s;
    if (batch.empty()) return Status::OK();
    for (const auto& m : batch) {
      int64_t id = 0;
      auto [p, ec] = std::from_chars(m.key.data(), m.key.data() + m.key.size(), id);
      if (ec != std::errc() || p != m.key.data() + m.key.size()) {
        visit(m, std::optional<int64_t>());
        continue;
      }
      if (id < opts.min_id || id > opts.max_id) continue;
      visit(m, std::optional<int64_t>(id));
    }
    from = next;
  }
}

}  // namespace

nlohmann::json VerifyReport::ToJson() const {
  nlohmann::json j = {{"ok", ok()},
                      {"rows", rows},
                      {"messages", messages},
                      {"missing", missing},
                      {"orphans", orphans},
                      {"duplicates", duplicates},
                      {"duplicate_messages", duplicate_messages},
                      {"foreign_keys", foreign_keys},
                      {"prepared_postgres", prepared_postgres},
                      {"order_per_key", OrderPerKeyJson()}};
  if (broker_prepares) j["prepared_broker"] = prepared_broker;
  if (has_inbox) j["inbox"] = {{"ids", inbox_ids}, {"absorbed", inbox_absorbed}};
  return j;
}

nlohmann::json VerifyReport::OrderPerKeyJson() const {
  nlohmann::json inv = nlohmann::json::array();
  for (const auto& i : reordered) inv.push_back(i.ToJson());
  return {{"keys_checked", keys_checked},
          {"multi_event_keys", multi_event_keys},
          {"reordered", inv},
          {"gaps", gaps},
          {"ahead", ahead}};
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
  if (duplicate_messages > 0) {
    out += "duplicate deliveries (a message id read again): " + std::to_string(duplicate_messages) +
           "\n";
  }
  if (multi_event_keys > 0 || !reordered.empty() || !gaps.empty() || !ahead.empty()) {
    out += "order per key: " + std::to_string(keys_checked) + " keys checked, " +
           std::to_string(multi_event_keys) + " with several events\n";
    out += "reordered keys: " + std::to_string(reordered.size());
    if (!reordered.empty()) {
      out += " [";
      for (size_t i = 0; i < reordered.size() && i < max; ++i) {
        out += (i ? ", " : "") + reordered[i].ToText();
      }
      if (reordered.size() > max) {
        out += ", ... (" + std::to_string(reordered.size() - max) + " more)";
      }
      out += "]";
    }
    out += "\n";
    line("keys with a gap (a version never read)", gaps);
    line("keys with an event past the row's version", ahead);
  }
  if (has_inbox) {
    out += "consumer inbox: " + std::to_string(inbox_ids) + " message ids, " +
           std::to_string(inbox_absorbed) + " duplicates absorbed\n";
  }
  if (!foreign_keys.empty()) line("messages whose key is not an order id", foreign_keys);
  line("prepared at Postgres", prepared_postgres);
  if (broker_prepares) line("prepared at the broker", prepared_broker);
  out += ok() ? "verify: OK\n" : "verify: VIOLATIONS\n";
  return out;
}

Status Verify(const VerifyOptions& opts, VerifyReport* r) {
  *r = VerifyReport{};
  std::unordered_map<int64_t, int> rows;  // order id -> the version its row reached
  try {
    pqxx::connection c{opts.dsn};
    pqxx::read_transaction tx{c};
    auto exists = tx.exec1("SELECT to_regclass('orders') IS NOT NULL")[0].as<bool>();
    if (exists) {
      // Only runs with several events per order add the column
      // (workload/order_events.h); without it every order is at version 1.
      const bool versioned =
          tx.exec1(
                "SELECT count(*) > 0 FROM pg_attribute WHERE attrelid = 'orders'::regclass"
                " AND attname = 'version' AND NOT attisdropped")[0]
              .as<bool>();
      std::vector<std::string> columns{"id"};
      if (versioned) columns.push_back("version");
      // Read the keys with COPY-like streaming: a large table must not be buffered as a result set
      // twice.
      pqxx::stream_from s{tx, "orders", columns};
      // libpqxx 6.4's `s >> tuple` fails on one-column lines ("Too few
      // fields"): its raw line keeps the trailing newline. Parse it here.
      std::string line;
      while (s.get_raw_line(line)) {
        int64_t id = 0;
        int version = 1;
        const char* end = line.data() + line.size();
        auto [p, ec] = std::from_chars(line.data(), end, id);
        if (ec == std::errc() && versioned) {
          if (p == end || *p != '\t') ec = std::errc::invalid_argument;
          if (ec == std::errc()) ec = std::from_chars(p + 1, end, version).ec;
        }
        if (ec != std::errc()) throw std::runtime_error("orders: unexpected COPY line: " + line);
        if (id >= opts.min_id && id <= opts.max_id) rows[id] = version;
      }
      s.complete();
    }
    if (tx.exec1("SELECT to_regclass('inbox') IS NOT NULL")[0].as<bool>()) {
      pqxx::row in = tx.exec1("SELECT count(*), coalesce(sum(absorbed), 0) FROM inbox");
      r->has_inbox = true;
      r->inbox_ids = in[0].as<uint64_t>();
      r->inbox_absorbed = in[1].as<uint64_t>();
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

  TopicReader reader;
  Status s = reader.Open(opts);
  if (!s.ok()) return s;
  std::unordered_set<int64_t> seen;
  std::unordered_set<std::string> ids;
  OrderCheck order_check;
  s = ScanOrderTopic(reader, opts, [&](const BrokerMessage& m, std::optional<int64_t> id) {
    ++r->messages;
    if (!ids.insert(m.id).second) ++r->duplicate_messages;
    if (!id) {
      r->foreign_keys.push_back(m.key);
      return;
    }
    seen.insert(*id);
    order_check.Add(*id, OrderEventVersion(m.id, *id), m.offset);
  });
  if (!s.ok()) return s;
  for (const auto& [id, version] : rows) {
    if (!seen.count(id)) r->missing.push_back(id);
  }
  for (int64_t id : seen) {
    if (!rows.count(id)) r->orphans.push_back(id);
  }
  std::sort(r->missing.begin(), r->missing.end());
  std::sort(r->orphans.begin(), r->orphans.end());
  OrderCheckResult oc = order_check.Finish(rows);
  r->duplicates = std::move(oc.duplicates);
  r->keys_checked = oc.keys;
  r->multi_event_keys = oc.multi_event;
  r->reordered = std::move(oc.reordered);
  r->gaps = std::move(oc.gaps);
  r->ahead = std::move(oc.ahead);

  if (!reader.broker()) {  // JetStream and RabbitMQ have no prepared messages
    r->broker_prepares = false;
    return Status::OK();
  }
  std::vector<BrokerPrepared> prepared;
  s = reader.broker()->ListPrepared(&prepared);
  if (!s.ok()) return s;
  for (const auto& p : prepared) r->prepared_broker.push_back(p.gid);
  std::sort(r->prepared_broker.begin(), r->prepared_broker.end());
  return Status::OK();
}

nlohmann::json SagaVerifyReport::ToJson() const {
  return {{"ok", ok()},
          {"orders", orders},
          {"placed", placed},
          {"cancelled", cancelled},
          {"messages", messages},
          {"pending", pending},
          {"compensating", compensating},
          {"placed_missing", placed_missing},
          {"placed_duplicates", placed_duplicates},
          {"placed_cancelled", placed_cancelled},
          {"cancelled_unannounced", cancelled_unannounced},
          {"orphans", orphans}};
}

std::string SagaVerifyReport::ToText(size_t max) const {
  std::string out = "saga orders " + std::to_string(orders) + " (placed " + std::to_string(placed) +
                    ", cancelled " + std::to_string(cancelled) + "), events " +
                    std::to_string(messages) + "\n";
  auto line = [&](const char* what, const std::vector<int64_t>& v) {
    out += std::string(what) + ": " + std::to_string(v.size());
    if (!v.empty()) out += " [" + List(v, max) + "]";
    out += "\n";
  };
  line("pending (not decided)", pending);
  line("compensating (OrderCancelled not sent)", compensating);
  line("placed without OrderPlaced", placed_missing);
  line("placed with several OrderPlaced", placed_duplicates);
  line("placed yet cancelled by an event", placed_cancelled);
  line("cancelled, OrderPlaced not followed by OrderCancelled", cancelled_unannounced);
  line("events without their row", orphans);
  out += ok() ? "verify: OK\n" : "verify: VIOLATIONS\n";
  return out;
}

Status VerifySaga(const VerifyOptions& opts, SagaVerifyReport* r) {
  *r = SagaVerifyReport{};
  // Every order row of the range (for orphans), with its saga status if any.
  std::unordered_map<int64_t, std::string> status;  // "" = not a saga order
  try {
    pqxx::connection c{opts.dsn};
    pqxx::read_transaction tx{c};
    bool have_orders = tx.exec1("SELECT to_regclass('orders') IS NOT NULL")[0].as<bool>();
    bool have_saga = tx.exec1(
                           "SELECT to_regclass('saga_orders') IS NOT NULL AND "
                           "to_regclass('saga_log') IS NOT NULL")[0]
                         .as<bool>();
    if (have_orders) {
      std::string q = have_saga ? "SELECT o.id, coalesce(s.status, '') FROM orders o LEFT JOIN "
                                  "saga_orders s ON s.order_id = o.id"
                                : "SELECT id, '' FROM orders o";
      q += " WHERE o.id BETWEEN $1 AND $2";
      for (const auto& row : tx.exec_params(q, opts.min_id, opts.max_id)) {
        status[row[0].as<int64_t>()] = row[1].as<std::string>();
      }
    }
    if (have_saga) {
      for (const auto& row : tx.exec_params("SELECT saga_id FROM saga_log WHERE state = "
                                            "'compensating' AND saga_id BETWEEN $1 AND $2 "
                                            "ORDER BY saga_id",
                                            opts.min_id, opts.max_id)) {
        r->compensating.push_back(row[0].as<int64_t>());
      }
    }
    tx.commit();
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(std::string("cannot connect to Postgres: ") + e.what());
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading saga orders: ") + e.what());
  }

  TopicReader reader;
  Status s = reader.Open(opts);
  if (!s.ok()) return s;
  struct Events {
    uint32_t placed = 0;
    uint32_t cancelled = 0;
    uint64_t last_placed = 0, last_cancelled = 0;  // offsets
  };
  std::unordered_map<int64_t, Events> events;
  std::unordered_set<int64_t> orphans;
  s = ScanOrderTopic(reader, opts, [&](const BrokerMessage& m, std::optional<int64_t> id) {
    if (!id) return;  // not an order's
    const std::string placed_id = "order-" + m.key;
    const bool is_placed = m.id == placed_id;
    const bool is_cancelled = m.id == placed_id + "-cancelled";
    if (!is_placed && !is_cancelled) return;
    ++r->messages;
    auto row = status.find(*id);
    if (row == status.end() || (is_cancelled && row->second.empty())) {
      orphans.insert(*id);
      return;
    }
    Events& e = events[*id];
    if (is_placed) {
      ++e.placed;
      e.last_placed = m.offset;
    } else {
      ++e.cancelled;
      e.last_cancelled = m.offset;
    }
  });
  if (!s.ok()) return s;
  for (const auto& [id, st] : status) {
    if (st.empty()) continue;
    ++r->orders;
    const Events e = events.count(id) ? events[id] : Events{};
    if (st == "pending") {
      r->pending.push_back(id);
    } else if (st == "placed") {
      ++r->placed;
      if (e.placed == 0) r->placed_missing.push_back(id);
      if (e.placed > 1) r->placed_duplicates.push_back(id);
      if (e.cancelled > 0) r->placed_cancelled.push_back(id);
    } else if (st == "cancelled") {
      ++r->cancelled;
      if (e.placed > 0 && (e.cancelled == 0 || e.last_cancelled < e.last_placed)) {
        r->cancelled_unannounced.push_back(id);
      }
    }
  }
  r->orphans.assign(orphans.begin(), orphans.end());
  for (auto* v : {&r->pending, &r->placed_missing, &r->placed_duplicates, &r->placed_cancelled,
                  &r->cancelled_unannounced, &r->orphans}) {
    std::sort(v->begin(), v->end());
  }
  return Status::OK();
}

}  // namespace dw::workload
