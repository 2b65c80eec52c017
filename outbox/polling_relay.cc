#include "outbox/polling_relay.h"

#include <algorithm>
#include <cstdlib>

#include "outbox/schema.h"

namespace dw::outbox {

std::string TraceInstance(const RelayOptions& opts) {
  size_t colon = opts.instance_name.rfind(':');
  return "r" +
         (colon == std::string::npos ? std::string("0") : opts.instance_name.substr(colon + 1));
}

std::string DescribeRows(const std::vector<OutboxEvent>& events) {
  if (events.empty()) return "0 rows";
  auto [lo, hi] =
      std::minmax_element(events.begin(), events.end(),
                          [](const OutboxEvent& a, const OutboxEvent& b) { return a.id < b.id; });
  if (events.size() == 1) return "1 row (id " + std::to_string(lo->id) + ")";
  return std::to_string(events.size()) + " rows (ids " + std::to_string(lo->id) + ".." +
         std::to_string(hi->id) + ")";
}

PollingRelay::PollingRelay(const RelayOptions& opts)
    : opts_(opts), wakeup_(opts.dsn, kChannel, opts.listen) {}

Status PollingRelay::Start() {
  if (!pool_) {
    PgPool::Options po;
    po.dsn = opts_.dsn;
    po.max_connections = 1;
    po.application_name = "dualwrite-relay-" + std::string(StrategyName(opts_.strategy));
    Status s = PgPool::Create(po, &pool_);
    if (!s.ok()) return s;
  }
  if (!broker_) {
    Status s = MakePublisher(opts_, &broker_);
    if (!s.ok()) return s;
  }
  // LISTEN before the first read: a commit between the two is then either
  // read or notified.
  wakeup_.Connect();
  pqxx::connection* c;
  Status s = Connection(&c);
  if (!s.ok()) return s;
  return StartStrategy();
}

Status PollingRelay::Connection(pqxx::connection** out) {
  if (!lease_) {
    Status s = pool_->Acquire(&lease_);
    if (!s.ok()) return s;
    // The relay's own commits (delete, mark sent, advance the counter) need
    // no WAL flush: if one is lost in a crash, the rows are published again
    // and the broker deduplicates them. One fsync less per batch.
    try {
      pqxx::nontransaction tx{lease_.conn()};
      tx.exec("SET synchronous_commit = off");
      for (const auto& sql : session_settings_) tx.exec(sql);
    } catch (...) {
      return PgError("session setup");
    }
  }
  *out = &lease_.conn();
  return Status::OK();
}

Status PollingRelay::PgError(const std::string& context) {
  Status s =
      StatusFromPgException(&lease_, std::string(StrategyName(opts_.strategy)) + ": " + context);
  // A broken lease goes back to the pool now (which destroys it); the next
  // Step acquires a new connection.
  lease_.Reset();
  return s;
}

Trace* PollingRelay::BeginBatchTrace() {
  if (!opts_.trace) return nullptr;
  trace_id_ = TraceInstance(opts_) + ".b" + std::to_string(trace_batches_ + 1);
  if (!opts_.trace->Begin(trace_id_)) return nullptr;
  ++trace_batches_;
  return opts_.trace;
}

void PollingRelay::DiscardBatchTrace() {
  opts_.trace->Discard(trace_id_);
  --trace_batches_;
}

std::vector<OutboxEvent> PollingRelay::Events(const pqxx::result& r, int first) {
  std::vector<OutboxEvent> out;
  out.reserve(r.size());
  for (const auto& row : r) {
    OutboxEvent e;
    e.id = row[first].as<int64_t>();
    e.topic = row[first + 1].as<std::string>();
    e.event_id = row[first + 2].as<std::string>();
    e.key = row[first + 3].as<std::string>();
    e.payload = row[first + 4].as<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

Status PollingRelay::NoneUnsent(bool* drained) {
  pqxx::connection* c;
  Status s = Connection(&c);
  if (!s.ok()) return s;
  try {
    pqxx::read_transaction tx{*c};
    *drained = tx.exec1("SELECT NOT EXISTS (SELECT 1 FROM outbox_table o WHERE " +
                        UnsentPredicate(opts_) + ")")[0]
                   .as<bool>();
    tx.commit();
    return Status::OK();
  } catch (...) {
    return PgError("checking the backlog");
  }
}

}  // namespace dw::outbox
