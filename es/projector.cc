#include "es/projector.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <sstream>
#include <thread>
#include <vector>

#include <simdjson.h>
#include <pqxx/pqxx>

#include "participants/broker_client.h"
#include "participants/pg_array.h"
#include "workload/order_events.h"
#include "workload/orders.h"

namespace dw::es {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowUnixUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The row an OrderPlaced event stands for; false for any other event.
struct Row {
  int64_t id = 0;
  std::string customer;
  int64_t amount_cents = 0;
};

// simdjson: nlohmann's parser took about a third of the projector's CPU in a
// catch-up of 100k events (perf); one DOM parser per thread is reused.
simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Event n >= 2 of an order (workload/order_events.h): its row moves from
// version n-1 to n and takes the event's status.
struct Advance {
  int64_t id = 0;
  int64_t version = 0;
  std::string status;
  int64_t visible_ms = 0;
};

enum class EventKind { kPlaced, kAdvance, kOther };

// OrderPlaced fills `r`; a later event of an order (its id
// "order-<id>-<n>", its payload {type, order_id, status, version: n}) fills
// `a`; anything else is kOther.
EventKind ParseOrderEvent(const BrokerMessage& m, Row* r, Advance* a) {
  auto [p, ec] = std::from_chars(m.key.data(), m.key.data() + m.key.size(), r->id);
  if (ec != std::errc() || p != m.key.data() + m.key.size()) return EventKind::kOther;
  simdjson::dom::object o;
  if (Parser().parse(m.payload).get(o) != simdjson::SUCCESS) return EventKind::kOther;
  std::string_view type, customer;
  int64_t amount = 0, order_id = 0;
  if (o["type"].get(type) != simdjson::SUCCESS) return EventKind::kOther;
  if (type != "OrderPlaced") {
    std::string_view status;
    int64_t version = 0;
    if (o["order_id"].get(order_id) != simdjson::SUCCESS || order_id != r->id ||
        o["version"].get(version) != simdjson::SUCCESS || version < 2 ||
        version > workload::kMaxEventsPerOrder || o["status"].get(status) != simdjson::SUCCESS ||
        m.id != workload::OrderEventMessageId(r->id, static_cast<int>(version))) {
      return EventKind::kOther;
    }
    a->id = r->id;
    a->version = version;
    a->status = std::string(status);
    a->visible_ms = m.ts_ms;
    return EventKind::kAdvance;
  }
  if (o["customer"].get(customer) != simdjson::SUCCESS ||
      o["amount_cents"].get(amount) != simdjson::SUCCESS ||
      o["order_id"].get(order_id) != simdjson::SUCCESS || order_id != r->id) {
    return EventKind::kOther;
  }
  r->customer = std::string(customer);
  r->amount_cents = amount;
  return EventKind::kPlaced;
}

// One UPDATE per version present in the batch, lowest first: an order's
// events arrive in version order (event n is published only once n-1 was
// acknowledged), so applying version n only after version n-1 is applying
// each order's events in their topic order, several of them in one batch
// included.
uint64_t ApplyAdvances(pqxx::work& tx, std::vector<Advance>* advances,
                       std::vector<int64_t>* visible_ms) {
  std::stable_sort(advances->begin(), advances->end(),
                   [](const Advance& a, const Advance& b) { return a.version < b.version; });
  uint64_t applied = 0;
  std::vector<int64_t> ids;
  std::vector<std::string> statuses;
  for (size_t i = 0; i < advances->size();) {
    const int64_t version = (*advances)[i].version;
    ids.clear();
    statuses.clear();
    for (; i < advances->size() && (*advances)[i].version == version; ++i) {
      ids.push_back((*advances)[i].id);
      statuses.push_back((*advances)[i].status);
      visible_ms->push_back((*advances)[i].visible_ms);
    }
    applied += tx.exec_prepared("dw_es_advance", BigintArray(ids), TextArray(statuses), version)
                   .affected_rows();
  }
  return applied;
}

}  // namespace

// The batch's rows travel as three array parameters of one prepared
// statement (participants/pg_array.h): Postgres parses and plans it once per
// connection. A VALUES list with three parameters per row was parsed and
// planned for every batch and cost Postgres about three times the CPU of the
// same rows sent as a literal multi-row INSERT.
struct Projector::Pg {
  explicit Pg(const std::string& dsn) : conn(dsn) {
    conn.prepare("dw_es_offset", "SELECT next_offset FROM es_offsets WHERE projector = $1");
    conn.prepare("dw_es_insert",
                 "INSERT INTO orders (id, customer, amount_cents) "
                 "SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[]) "
                 "ON CONFLICT (id) DO NOTHING");
    conn.prepare("dw_es_move",
                 "UPDATE es_offsets SET next_offset = $1, updated_at = now() "
                 "WHERE projector = $2 AND next_offset = $3");
  }
  // Prepared on the first batch with later events, once the version
  // columns exist (Postgres checks the columns when it prepares).
  void PrepareAdvance() {
    if (advance_prepared) return;
    // $1 the orders, $2 their statuses, $3 the version they move to. The
    // condition on the version makes a redelivered event a no-op and never
    // moves a row backwards.
    conn.prepare("dw_es_advance",
                 "UPDATE orders AS o SET status = u.status, version = $3 "
                 "FROM unnest($1::bigint[], $2::text[]) AS u(id, status) "
                 "WHERE o.id = u.id AND o.version = $3 - 1");
    advance_prepared = true;
  }
  pqxx::connection conn;
  bool advance_prepared = false;
};

nlohmann::json ProjectorStats::ToJson() const {
  auto ms = [](int64_t us) { return us / 1000.0; };
  return {{"batches", batches},
          {"events", events},
          {"rows", rows},
          {"duplicates", duplicates},
          {"skipped", skipped},
          {"advanced", advanced},
          {"stale", stale},
          {"conflicts", conflicts},
          {"next_offset", next_offset},
          {"elapsed_s", elapsed_s},
          {"rows_per_s", elapsed_s > 0 ? rows / elapsed_s : 0.0},
          {"lag_ms",
           {{"p50", ms(lag_us.Percentile(0.5))},
            {"p99", ms(lag_us.Percentile(0.99))},
            {"max", ms(lag_us.max())},
            {"count", lag_us.count()}}}};
}

std::string ProjectorStats::ToText() const {
  std::ostringstream o;
  o << "projected " << events << " events in " << batches << " batches: " << rows
    << " rows inserted, " << duplicates << " already present, " << skipped
    << " not an order's event, " << conflicts << " batches lost to another projector\n";
  if (advanced > 0 || stale > 0) {
    o << "later events: " << advanced << " applied, " << stale
      << " not applied (the row was not at the version before)\n";
  }
  o << "next offset " << next_offset << "; " << (elapsed_s > 0 ? rows / elapsed_s : 0.0)
    << " rows/s\n";
  if (lag_us.count() > 0) {
    o << "projection lag (broker visible -> row committed): p50 " << lag_us.Percentile(0.5) / 1000.0
      << " ms, p99 " << lag_us.Percentile(0.99) / 1000.0 << " ms, max " << lag_us.max() / 1000.0
      << " ms\n";
  }
  return o.str();
}

Projector::Projector(const ProjectorOptions& opts) : opts_(opts) {}
Projector::~Projector() {
  if (ahead_.valid()) ahead_.wait();  // it uses broker_
}

Status Projector::Open(const ProjectorOptions& opts, std::unique_ptr<Projector>* out) {
  if (opts.batch == 0) return Status::InvalidArgument("--batch must be at least 1");
  if (opts.name.empty()) return Status::InvalidArgument("the projector needs a name");
  Status s = workload::EnsureOrdersSchema(opts.dsn);
  if (!s.ok()) return s;
  std::unique_ptr<Projector> p(new Projector(opts));
  BrokerClient::Options bo;
  bo.url = opts.broker_url;
  s = BrokerClient::Create(bo, &p->broker_);
  if (!s.ok()) return s;
  s = p->Connect();
  if (!s.ok()) return s;
  try {
    pqxx::work tx{p->pg_->conn};
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS es_offsets ("
        " projector text PRIMARY KEY,"
        " topic text NOT NULL,"
        " next_offset bigint NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now())");
    tx.exec_params0(
        "INSERT INTO es_offsets (projector, topic, next_offset) VALUES ($1, $2, 0) "
        "ON CONFLICT (projector) DO NOTHING",
        opts.name, opts.topic);
    pqxx::result r = tx.exec_params("SELECT topic FROM es_offsets WHERE projector = $1", opts.name);
    if (r.empty() || r[0][0].as<std::string>() != opts.topic) {
      return Status::InvalidArgument("projector '" + opts.name + "' follows topic '" +
                                     (r.empty() ? "" : r[0][0].as<std::string>()) + "', not '" +
                                     opts.topic + "': give it another --name");
    }
    tx.commit();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("creating es_offsets: ") + e.what());
  }
  *out = std::move(p);
  return Status::OK();
}

Status Projector::Connect() {
  if (pg_) return Status::OK();
  try {
    pg_ = std::make_unique<Pg>(opts_.dsn);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("cannot connect to Postgres: ") + e.what());
  }
  return Status::OK();
}

Projector::Batch Projector::ReadBatch(uint64_t from) {
  Batch b;
  b.from = from;
  b.next = from;
  b.status = broker_->Read(opts_.topic, from, opts_.batch, &b.events, &b.next);
  return b;
}

Projector::Batch Projector::TakeBatch(uint64_t from) {
  if (ahead_.valid()) {
    Batch b = ahead_.get();
    if (b.status.ok() && b.from == from) return b;
  }
  return ReadBatch(from);
}

Status Projector::Step(bool* caught_up) {
  *caught_up = false;
  Status s = Connect();
  if (!s.ok()) return s;
  try {
    uint64_t from = 0;
    {
      pqxx::nontransaction tx{pg_->conn};
      from = tx.exec_prepared1("dw_es_offset", opts_.name)[0].as<uint64_t>();
    }
    Batch b = TakeBatch(from);
    if (!b.status.ok()) return b.status;
    const std::vector<BrokerMessage>& events = b.events;
    const uint64_t next = b.next;
    stats_.next_offset = from;
    if (events.empty()) {
      *caught_up = true;
      return Status::OK();
    }
    // The next batch is read while this one's transaction runs.
    ahead_ = std::async(std::launch::async, [this, next] { return ReadBatch(next); });
    std::vector<Row> rows;
    rows.reserve(events.size());
    std::vector<int64_t> visible_ms;
    std::vector<Advance> advances;  // in offset order
    for (const BrokerMessage& m : events) {
      Row r;
      Advance a;
      switch (ParseOrderEvent(m, &r, &a)) {
        case EventKind::kPlaced:
          rows.push_back(std::move(r));
          visible_ms.push_back(m.ts_ms);
          break;
        case EventKind::kAdvance:
          advances.push_back(std::move(a));
          break;
        case EventKind::kOther:
          break;
      }
    }
    if (!advances.empty()) {
      s = EnsureAdvance();
      if (!s.ok()) return s;
    }
    pqxx::work tx{pg_->conn};
    uint64_t inserted = 0;
    if (!rows.empty()) {
      std::vector<int64_t> ids, amounts;
      std::vector<std::string> customers;
      ids.reserve(rows.size());
      amounts.reserve(rows.size());
      customers.reserve(rows.size());
      for (const Row& r : rows) {
        ids.push_back(r.id);
        customers.push_back(r.customer);
        amounts.push_back(r.amount_cents);
      }
      inserted = tx.exec_prepared("dw_es_insert", BigintArray(ids), TextArray(customers),
                                  BigintArray(amounts))
                     .affected_rows();
    }
    uint64_t advanced = 0;
    if (!advances.empty()) advanced = ApplyAdvances(tx, &advances, &visible_ms);
    if (opts_.crash_after_insert_of_batch > 0 &&
        static_cast<int64_t>(stats_.batches) + 1 == opts_.crash_after_insert_of_batch) {
      kill(getpid(), SIGKILL);  // the test's crash point: rows inserted, nothing committed
    }
    const uint64_t moved = tx.exec_prepared("dw_es_move", next, opts_.name, from).affected_rows();
    if (moved != 1) {
      tx.abort();
      ++stats_.conflicts;
      return Status::OK();
    }
    tx.commit();
    const int64_t committed_us = NowUnixUs();
    for (int64_t ms : visible_ms) stats_.lag_us.Record(committed_us - ms * 1000);
    ++stats_.batches;
    stats_.events += events.size();
    stats_.rows += inserted;
    stats_.duplicates += rows.size() - inserted;
    stats_.skipped += events.size() - rows.size() - advances.size();
    stats_.advanced += advanced;
    stats_.stale += advances.size() - advanced;
    stats_.next_offset = next;
  } catch (const pqxx::broken_connection& e) {
    pg_.reset();
    return Status::Unavailable(std::string("projector: Postgres connection lost: ") + e.what());
  } catch (const std::exception& e) {
    if (pg_ && !pg_->conn.is_open()) pg_.reset();
    return Status::IOError(std::string("projector: ") + e.what());
  }
  return Status::OK();
}

Status Projector::EnsureAdvance() {
  if (!version_columns_) {
    Status s = workload::EnsureOrderVersionColumns(opts_.dsn);
    if (!s.ok()) return s;
    version_columns_ = true;
  }
  try {
    pg_->PrepareAdvance();
  } catch (const pqxx::broken_connection& e) {
    pg_.reset();
    return Status::Unavailable(std::string("projector: Postgres connection lost: ") + e.what());
  } catch (const std::exception& e) {
    return Status::IOError(std::string("projector: preparing the later events' UPDATE: ") +
                           e.what());
  }
  return Status::OK();
}

Status Projector::Run(const std::atomic<bool>& stop, bool until_caught_up,
                      std::chrono::milliseconds max_run, std::chrono::milliseconds error_budget) {
  const auto t0 = Clock::now();
  auto last_ok = t0;
  Status last_error;
  while (!stop.load()) {
    if (max_run.count() > 0 && Clock::now() - t0 >= max_run) break;
    bool caught_up = false;
    Status s = Step(&caught_up);
    if (!s.ok()) {
      // A server away (Postgres restarting, the broker down) is waited out:
      // the stored offset makes a retry safe.
      last_error = s;
      if (Clock::now() - last_ok > error_budget) {
        stats_.elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
        return s;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    last_ok = Clock::now();
    if (caught_up) {
      if (until_caught_up) break;
      std::this_thread::sleep_for(opts_.idle_wait);
    }
  }
  stats_.elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return Status::OK();
}

}  // namespace dw::es
