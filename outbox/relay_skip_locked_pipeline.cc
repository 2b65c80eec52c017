#include "outbox/relay_skip_locked_pipeline.h"

#include <algorithm>
#include <future>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "outbox/polling_relay.h"
#include "outbox/publisher.h"
#include "outbox/relay_skip_locked.h"
#include "outbox/schema.h"
#include "outbox/wakeup.h"
#include "participants/pg_pool.h"

namespace dw::outbox {
namespace {

class PipelinedSkipLockedRelay : public Relay {
 public:
  explicit PipelinedSkipLockedRelay(const RelayOptions& opts)
      : opts_(opts),
        wakeup_(opts.dsn, kChannel, opts.listen),
        claim_sql_(opts.mark_sent ? kSkipLockedMarkSql : kSkipLockedClaimSql),
        settled_(opts.mark_sent ? "the rows are marked sent" : "the rows are gone") {}

  Strategy strategy() const override { return Strategy::kSkipLocked; }
  const RelayCounters& counters() const override { return counters_; }

  Status Start() override {
    if (!pool_) {
      PgPool::Options po;
      po.dsn = opts_.dsn;
      po.max_connections = 2;  // A and B
      po.application_name = "dualwrite-relay-skip-locked";
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
    return Connect(&sides_[cur_]);
  }

  Status Step(int64_t* moved) override {
    *moved = 0;
    Side* now = &sides_[cur_];
    Side* next = &sides_[1 - cur_];
    if (!now->tx) {
      Status s = Claim(now);
      if (!s.ok()) return s;
      if (now->events.empty()) return CloseEmpty(now);
    }
    // Batch n+1 on the other connection while n is published. The helper
    // thread touches only `next` (and the pool, which locks); this one only
    // `now`, the publisher and the counters, until get() joins them.
    std::future<Status> ahead =
        std::async(std::launch::async, [this, next] { return Claim(next); });
    Status s = PublishTraced(broker_.get(), now->events, TraceOf(*now), now->trace_id);
    if (s.ok()) {
      s = Commit(now, settled_);
    } else {
      Rollback(now, "the batch is not settled: it is read again");
    }
    Status claimed = ahead.get();
    if (!s.ok()) {
      // n is claimed again first by the next Step; whatever n+1 holds must
      // not be published before it.
      if (next->tx) Rollback(next, "claimed after a batch that failed: it comes back with it");
      next->events.clear();
      return s;
    }
    *moved = static_cast<int64_t>(now->events.size());
    counters_.published += now->events.size();
    ++counters_.steps;
    now->events.clear();
    if (!claimed.ok()) return claimed;  // n is settled; n+1 was rolled back
    if (next->events.empty()) return CloseEmpty(next);
    cur_ = 1 - cur_;
    return Status::OK();
  }

  // A batch claimed ahead is work waiting: the runner Steps again at once.
  bool WaitForWork(std::chrono::milliseconds max_wait) override {
    if (sides_[cur_].tx) return true;
    return wakeup_.Wait(max_wait);
  }

  Status Drained(bool* drained) override {
    Side* s = &sides_[cur_];
    if (s->tx) {  // claimed ahead, not yet sent
      *drained = false;
      return Status::OK();
    }
    Status st = Connect(s);
    if (!st.ok()) return st;
    try {
      pqxx::read_transaction tx{s->lease.conn()};
      *drained = tx.exec1("SELECT NOT EXISTS (SELECT 1 FROM outbox_table o WHERE " +
                          UnsentPredicate(opts_) + ")")[0]
                     .as<bool>();
      tx.commit();
      return Status::OK();
    } catch (...) {
      return Fail(s, "checking the backlog");
    }
  }

 private:
  // One connection and the batch claimed on it. `tx` is declared after
  // `lease`, so it is destroyed first (aborted: the rows come back).
  struct Side {
    PgPool::Lease lease;
    std::unique_ptr<pqxx::work> tx;  // open from the claim to its commit or rollback
    std::vector<OutboxEvent> events;
    std::string trace_id;  // empty: this batch is not traced
  };

  Status Connect(Side* s) {
    if (s->lease) return Status::OK();
    Status st = pool_->Acquire(&s->lease);
    if (!st.ok()) return st;
    // As the serial relay: a lost commit only republishes its batch.
    try {
      pqxx::nontransaction tx{s->lease.conn()};
      tx.exec("SET synchronous_commit = off");
    } catch (...) {
      return Fail(s, "session setup");
    }
    return Status::OK();
  }

  // The claim, in a transaction left open (the rows stay locked).
  Status Claim(Side* s) {
    s->events.clear();
    Status st = Connect(s);
    if (!st.ok()) return st;
    BeginTrace(s);
    try {
      Send(*s, "BEGIN");
      s->tx = std::make_unique<pqxx::work>(s->lease.conn());
      Send(*s, SqlWithParams(claim_sql_, {std::to_string(opts_.batch)}));
      const std::string name = s->lease.Prepared(claim_sql_);
      pqxx::result r = name.empty() ? s->tx->exec_params(claim_sql_, opts_.batch)
                                    : s->tx->exec_prepared(name, opts_.batch);
      if (Trace* t = TraceOf(*s)) t->Reply(s->trace_id, "postgres", DescribeResult(claim_sql_, r));
      s->events.reserve(r.size());
      for (const auto& row : r) {
        s->events.push_back(OutboxEvent{row[0].as<int64_t>(), row[1].as<std::string>(),
                                        row[2].as<std::string>(), row[3].as<std::string>(),
                                        row[4].as<std::string>()});
      }
      std::sort(s->events.begin(), s->events.end(),
                [](const OutboxEvent& a, const OutboxEvent& b) { return a.id < b.id; });
      return Status::OK();
    } catch (...) {
      return Fail(s, opts_.mark_sent ? "claim/mark batch" : "claim/delete batch");
    }
  }

  Status Commit(Side* s, const std::string& effect) {
    try {
      Send(*s, "COMMIT");
      s->tx->commit();
      s->tx.reset();
      if (Trace* t = TraceOf(*s)) t->Reply(s->trace_id, "postgres", "committed: " + effect);
      EndTrace(s, /*discard=*/false);
      return Status::OK();
    } catch (...) {
      return Fail(s, opts_.mark_sent ? "claim/mark batch" : "claim/delete batch");
    }
  }

  void Rollback(Side* s, const std::string& effect) {
    Send(*s, "ROLLBACK (" + effect + ")");
    try {
      s->tx->abort();
      s->tx.reset();
    } catch (...) {
      (void)Fail(s, "rollback");  // the connection goes; the rows come back all the same
    }
    EndTrace(s, /*discard=*/false);
  }

  // A claim that found nothing: its transaction ends, its trace is forgotten.
  Status CloseEmpty(Side* s) {
    try {
      s->tx->commit();
      s->tx.reset();
    } catch (...) {
      Status st = Fail(s, "claim/delete batch");
      EndTrace(s, /*discard=*/true);
      return st;
    }
    EndTrace(s, /*discard=*/true);
    return Status::OK();
  }

  // Call inside a catch block: the Status of the exception; the transaction
  // goes, and the connection too when it broke.
  Status Fail(Side* s, const std::string& context) {
    s->tx.reset();
    Status st = StatusFromPgException(&s->lease, "skip-locked: " + context);
    s->lease.Reset();
    if (Trace* t = TraceOf(*s)) t->Note(s->trace_id, "error: " + st.ToString());
    s->events.clear();
    return st;
  }

  // Tracing (RelayOptions::trace), one id per batch as the serial relay.
  // Begin runs on whichever thread claims, never on two at once (the helper
  // is joined before the next claim), so trace_batches_ needs no lock.
  void BeginTrace(Side* s) {
    s->trace_id.clear();
    if (!opts_.trace) return;
    std::string id = TraceInstance(opts_) + ".b" + std::to_string(trace_batches_ + 1);
    if (!opts_.trace->Begin(id)) return;
    ++trace_batches_;
    s->trace_id = id;
  }
  void EndTrace(Side* s, bool discard) {
    if (!s->trace_id.empty() && discard) {
      opts_.trace->Discard(s->trace_id);
      --trace_batches_;
    }
    s->trace_id.clear();
  }
  Trace* TraceOf(const Side& s) const { return s.trace_id.empty() ? nullptr : opts_.trace; }
  void Send(const Side& s, const std::string& what) {
    if (Trace* t = TraceOf(s)) t->Send(s.trace_id, "postgres", what);
  }

  const RelayOptions opts_;
  Wakeup wakeup_;
  const std::string claim_sql_;
  const std::string settled_;
  std::shared_ptr<PgPool> pool_;
  std::unique_ptr<Publisher> broker_;
  Side sides_[2];
  int cur_ = 0;  // the side whose batch is published next
  RelayCounters counters_;
  uint64_t trace_batches_ = 0;
};

}  // namespace

std::unique_ptr<Relay> NewPipelinedSkipLockedRelay(const RelayOptions& opts) {
  return std::make_unique<PipelinedSkipLockedRelay>(opts);
}

}  // namespace dw::outbox
