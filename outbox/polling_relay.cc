#include "outbox/polling_relay.h"

#include <algorithm>
#include <cctype>
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

std::string SqlWithParams(const std::string& sql, const std::vector<std::string>& params) {
  std::string out;
  out.reserve(sql.size());
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '$' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      size_t j = i + 1;
      size_t n = 0;
      while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) {
        n = n * 10 + static_cast<size_t>(sql[j] - '0');
        ++j;
      }
      if (n >= 1 && n <= params.size()) {
        out += params[n - 1];
        i = j - 1;
        continue;
      }
    }
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(c);
  }
  return out;
}

std::string DescribeResult(const std::string& sql, const pqxx::result& r) {
  // The command tag as psql prints it (libpqxx keeps the tag itself private).
  std::string out = sql.substr(0, sql.find(' ')) + " " + std::to_string(r.affected_rows());
  if (r.columns() == 0 || r.empty()) return out;
  if (std::string(r.column_name(0)) == "id") {
    int64_t lo = r[0][0].as<int64_t>(), hi = lo;
    for (const auto& row : r) {
      lo = std::min(lo, row[0].as<int64_t>());
      hi = std::max(hi, row[0].as<int64_t>());
    }
    return out + (r.size() == 1 ? " (id " + std::to_string(lo) + ")"
                                : " (ids " + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  }
  if (r.size() > 1) return out;
  out += ":";
  for (pqxx::row::size_type i = 0; i < r.columns(); ++i) {
    out += std::string(i == 0 ? " " : ", ") + r.column_name(i) + " = " +
           (r[0][i].is_null() ? std::string("NULL") : r[0][i].as<std::string>());
  }
  return out;
}

std::string PollingRelay::QuotedText(const std::string& s) {
  // A batch's id array runs to thousands of characters; its ends say enough.
  const size_t kMax = 48;
  std::string t = s.size() <= kMax ? s : s.substr(0, 24) + "..." + s.substr(s.size() - 12);
  std::string out = "'";
  for (char c : t) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

PollingRelay::PollingRelay(const RelayOptions& opts, StepNames names)
    : opts_(opts), wakeup_(opts.dsn, kChannel, opts.listen), names_(std::move(names)) {}

Status PollingRelay::Step(int64_t* moved) {
  *moved = 0;
  pqxx::connection_base* c;
  Status s = Connection(&c);
  if (!s.ok()) return s;
  BeginBatchTrace();
  std::vector<OutboxEvent> events;
  const std::string* phase = &names_.claim;
  const std::string* left = nullptr;
  try {
    Claim(&events);
    if (events.empty()) {
      if (tx_) CommitTx("");
      EndBatchTrace(/*discard=*/true);
      return Status::OK();
    }
    s = PublishTraced(broker_.get(), events, trace_, trace_id_);
    if (!s.ok()) {
      PublishFailed(events);
      tx_.reset();
      EndBatchTrace(/*discard=*/false);
      return s;
    }
    phase = &names_.settle;
    left = &names_.settle_left;
    s = Settle(events);
  } catch (...) {
    s = PgError(*phase);
    if (trace_) trace_->Note(trace_id_, "error: " + s.ToString() + (left ? *left : ""));
  }
  tx_.reset();
  EndBatchTrace(/*discard=*/false);
  if (!s.ok()) return s;
  *moved = static_cast<int64_t>(events.size());
  counters_.published += events.size();
  ++counters_.steps;
  return Status::OK();
}

void PollingRelay::PublishFailed(const std::vector<OutboxEvent>&) {
  RollbackTx("the batch is not settled: it is read again");
}

pqxx::work& PollingRelay::BeginTx() {
  if (trace_) trace_->Send(trace_id_, "postgres", "BEGIN");
  tx_ = std::make_unique<pqxx::work>(lease_.conn());
  return *tx_;
}

void PollingRelay::CommitTx(const std::string& effect) {
  if (trace_) trace_->Send(trace_id_, "postgres", "COMMIT");
  tx_->commit();
  tx_.reset();
  if (trace_)
    trace_->Reply(trace_id_, "postgres", effect.empty() ? "committed" : "committed: " + effect);
}

void PollingRelay::RollbackTx(const std::string& effect) {
  if (trace_) trace_->Send(trace_id_, "postgres", "ROLLBACK (" + effect + ")");
  tx_->abort();
  tx_.reset();
}

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
  pqxx::connection_base* c;
  Status s = Connection(&c);
  if (!s.ok()) return s;
  return StartStrategy();
}

Status PollingRelay::Connection(pqxx::connection_base** out) {
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

Status PollingRelay::CreateCounterRow(const char* init_sql, const std::string& key) {
  try {
    pqxx::work tx{lease_.conn()};
    Exec(tx, init_sql, key);
    tx.commit();
    return Status::OK();
  } catch (...) {
    return PgError("creating the counter row");
  }
}

Status PollingRelay::PgError(const std::string& context) {
  // The transaction goes before the connection it runs on.
  tx_.reset();
  Status s =
      StatusFromPgException(&lease_, std::string(StrategyName(opts_.strategy)) + ": " + context);
  // A broken lease goes back to the pool now (which destroys it); the next
  // Step acquires a new connection.
  lease_.Reset();
  return s;
}

bool PollingRelay::BeginBatchTrace() {
  trace_ = nullptr;
  if (!opts_.trace) return false;
  trace_id_ = TraceInstance(opts_) + ".b" + std::to_string(trace_batches_ + 1);
  if (!opts_.trace->Begin(trace_id_)) return false;
  ++trace_batches_;
  trace_ = opts_.trace;
  return true;
}

void PollingRelay::EndBatchTrace(bool discard) {
  if (trace_ && discard) {
    trace_->Discard(trace_id_);
    --trace_batches_;
  }
  trace_ = nullptr;
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
  pqxx::connection_base* c;
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
