#include "outbox/writer.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include <pqxx/pqxx>

#include "outbox/emit_message.h"
#include "outbox/pg_util.h"
#include "outbox/pgq_queue.h"
#include "outbox/schema.h"
#include "participants/pg_pool.h"
#include "workload/order_events.h"
#include "workload/stock.h"

namespace dw::outbox {
namespace {

// The most one writer's notifier delays a wake-up to coalesce commits.
constexpr auto kMinNotifySpacing = std::chrono::microseconds(500);

std::string EventTail(WriterOptions::NotifyMode notify, int64_t clock_skew_ms,
                      WriterOptions::Sink sink);

// Composes the canonical order INSERT (workload/orders.h, $1..$3) with the
// outbox insert ($4..$8) into one statement. With `reserve`, the stock
// reservation (workload/stock.h) joins it as one more data-modifying CTE,
// its product the last parameter: a WITH's data-modifying statements all run
// to completion, referenced or not, in the statement's one transaction.
std::string WriteSql(bool trigger, WriterOptions::NotifyMode notify, int64_t clock_skew_ms,
                     bool reserve, WriterOptions::Sink sink) {
  workload::Order probe;
  std::string order_insert = workload::InsertOrderStatement(probe).sql;
  const bool in_tx = notify == WriterOptions::NotifyMode::kInTransaction;
  const std::string wake = "SELECT pg_notify('" + std::string(kChannel) + "', '') FROM ";
  const std::string stk =
      reserve ? "stk AS (" + workload::ReserveStockSql(trigger ? 4 : 9) + ")" : "";
  const std::string lead = reserve ? "WITH " + stk + ", " : "WITH ";  // then the next CTE
  if (trigger) {
    if (in_tx) return lead + "ord AS (" + order_insert + " RETURNING id) " + wake + "ord";
    return reserve ? "WITH " + stk + " " + order_insert : order_insert;
  }
  return lead + "ord AS (" + order_insert + " RETURNING id)" +
         EventTail(notify, clock_skew_ms, sink);
}

// What follows `WITH ord AS (...)` in every explicit write: the event by the
// sink's means, one per row `ord` returns, with the event's fields as
// $4..$8 whatever `ord` is (the order's INSERT or, for events 2..E, its
// UPDATE, whose own parameters are also three).
std::string EventTail(WriterOptions::NotifyMode notify, int64_t clock_skew_ms,
                      WriterOptions::Sink sink) {
  const bool in_tx = notify == WriterOptions::NotifyMode::kInTransaction;
  const std::string wake = "SELECT pg_notify('" + std::string(kChannel) + "', '') FROM ";
  // A skewed writer stamps created_dttm with its own (wrong) clock, as an
  // application server whose clock is off would; the skew is an integer, so
  // it can be spliced in as a literal.
  const std::string outbox_insert =
      clock_skew_ms == 0
          ? "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload)"
            " SELECT $4, $5, $6, $7, $8 FROM ord"
          : "INSERT INTO outbox_table (entity_name, event_id, topic, msg_key, payload, "
            "created_dttm) SELECT $4, $5, $6, $7, $8, clock_timestamp() + " +
                std::to_string(clock_skew_ms) + " * interval '1 millisecond' FROM ord";
  if (sink == WriterOptions::Sink::kPgq) return " " + PgqInsertSql();
  if (sink == WriterOptions::Sink::kEmit) return " " + EmitMessageSql();
  if (in_tx) return ", evt AS (" + outbox_insert + " RETURNING 1) " + wake + "evt";
  return " " + outbox_insert;
}

// Event n >= 2 of an order: its UPDATE (workload/order_events.h, $1..$3)
// and its event in one statement, as the order's own write. With the capture
// trigger the UPDATE alone (its AFTER UPDATE trigger writes the event), and
// the wake-up in the transaction where the writer sends it there.
std::string AdvanceSql(bool trigger, WriterOptions::NotifyMode notify, int64_t clock_skew_ms,
                       WriterOptions::Sink sink) {
  const std::string update = workload::AdvanceOrderStatement(0, 2).sql;
  if (trigger) {
    if (notify != WriterOptions::NotifyMode::kInTransaction) return update;
    return "WITH ord AS (" + update + " RETURNING id) SELECT pg_notify('" + std::string(kChannel) +
           "', '') FROM ord";
  }
  return "WITH ord AS (" + update + " RETURNING id)" + EventTail(notify, clock_skew_ms, sink);
}

}  // namespace

struct OutboxWriter::Impl {
  WriterOptions opts;
  std::string sql;
  std::string sql_reserving;  // the same with the stock reservation (orders with a product)
  std::string sql_advance;    // events 2..E: the order's UPDATE and its event
  std::shared_ptr<PgPool> pool;
  std::vector<PgPool::Lease> leases;  // one per worker, (re)acquired on demand
  std::unique_ptr<pqxx::connection> lock_conn;
  std::unique_ptr<workload::OrderIdAllocator> ids;

  std::mutex mu;
  std::condition_variable cv;
  bool closing = false;  // guarded by mu
  bool dirty = false;    // guarded by mu: a commit not yet followed by a NOTIFY
  std::thread maintainer;
  std::thread notifier;
  // Opened before the workers connect: opened lazily at the first commit,
  // it queued behind 64 workers' connections at the postmaster and the
  // first wake-up came 1.3 s after the first commit, so relays slept
  // through their poll interval.
  std::unique_ptr<pqxx::connection> notify_conn;

  void MarkDirty() {
    {
      std::lock_guard<std::mutex> l(mu);
      if (dirty) return;  // the notifier has not woken yet: it covers this one too
      dirty = true;
    }
    cv.notify_all();
  }

  // Sends one NOTIFY per wake-up, for every commit marked since the last
  // one. A NOTIFY alone in its transaction writes no WAL and is cheap.
  void NotifierLoop() {
    std::unique_ptr<pqxx::connection> c = std::move(notify_conn);
    std::unique_lock<std::mutex> l(mu);
    for (;;) {
      cv.wait(l, [this] { return dirty || closing; });
      if (!dirty && closing) return;
      dirty = false;
      l.unlock();
      try {
        if (!c) c = std::make_unique<pqxx::connection>(WithConnectTimeout(opts.dsn));
        pqxx::nontransaction tx{*c};
        tx.exec(std::string("NOTIFY ") + kChannel);
      } catch (const std::exception&) {
        c.reset();  // relays still poll; the next commit retries
      }
      l.lock();
      // At high commit rates, let commits gather for a moment: each NOTIFY
      // takes the same global lock a notifying commit does. "High" = a commit
      // arrived while this NOTIFY was in flight. At a low rate (1,000/s, a
      // NOTIFY takes ~0.1 ms) the next commit then gets its wake-up at once
      // instead of up to kMinNotifySpacing late (outbox_bench latency/).
      if (dirty && !closing) {
        l.unlock();
        std::this_thread::sleep_for(kMinNotifySpacing);
        l.lock();
      }
    }
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> l(mu);
      closing = true;
    }
    cv.notify_all();
    if (maintainer.joinable()) maintainer.join();
    if (notifier.joinable()) notifier.join();  // sends a last NOTIFY if one is due
    leases.clear();
    lock_conn.reset();  // releases the writers' lock: after the last commit
  }
};

OutboxWriter::OutboxWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OutboxWriter::~OutboxWriter() = default;

Status OutboxWriter::Open(const WriterOptions& opts, std::unique_ptr<OutboxWriter>* out) {
  if (opts.connections < 1) return Status::InvalidArgument("connections must be >= 1");
  Status s = workload::EnsureOrdersSchema(opts.dsn);
  if (!s.ok()) return s;
  s = workload::EnsureStockTable(opts.dsn, workload::CurrentHotRows().rows);
  if (!s.ok()) return s;
  s = EnsureSchema(opts.dsn);
  if (!s.ok()) return s;
  if (opts.sink != WriterOptions::Sink::kTable && (opts.trigger || opts.clock_skew_ms != 0)) {
    return Status::InvalidArgument(
        "a PgQ or emit-message writer takes no capture trigger and no clock skew");
  }
  if (opts.sink == WriterOptions::Sink::kPgq) {
    s = EnsurePgqQueue(opts.dsn, nullptr);
    if (!s.ok()) return s;
  }
  if (opts.sink == WriterOptions::Sink::kEmit) {
    int64_t slots = 0;
    s = WithConnection(opts.dsn, "looking for a logical slot", [&](pqxx::connection& c) {
      pqxx::read_transaction tx{c};
      slots = tx.exec1(
                    "SELECT count(*) FROM pg_replication_slots"
                    " WHERE database = current_database() AND plugin = 'pgoutput'")[0]
                  .as<int64_t>();
    });
    if (!s.ok()) return s;
    if (slots == 0) {
      return Status::FailedPrecondition(
          "no logical replication slot in this database: a message emitted now would reach "
          "nobody. Start `dualwrite outbox relay --strategy cdc` first (it creates the slot)");
    }
  }
  if (opts.events_per_order > 1) {
    s = workload::EnsureOrderVersionColumns(opts.dsn);
    if (!s.ok()) return s;
  }
  if (opts.trigger) {
    s = InstallCaptureTrigger(opts.dsn, opts.events_per_order > 1);
    if (!s.ok()) return s;
  } else {
    bool installed = false;
    s = CaptureTriggerInstalled(opts.dsn, &installed);
    if (!s.ok()) return s;
    if (installed) {
      return Status::FailedPrecondition(
          "the outbox capture trigger is installed on orders (by `outbox write --trigger`): an "
          "explicit outbox insert would write every event twice. Run with --trigger, or remove it "
          "with `dualwrite outbox maintain --remove-trigger`");
    }
  }
  PartitionOptions po = opts.partitions;
  po.drop = false;  // writers only create; dropping is the relay's business
  MaintenanceReport mr;
  s = MaintainPartitions(opts.dsn, po, &mr);
  if (!s.ok()) return s;

  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  // The pgq relay polls for ticks (a NOTIFY per commit would wake it early);
  // the cdc relay is woken by the stream itself.
  if (opts.sink != WriterOptions::Sink::kTable) impl->opts.notify = WriterOptions::NotifyMode::kOff;
  impl->sql = WriteSql(opts.trigger, opts.notify, opts.clock_skew_ms, false, opts.sink);
  impl->sql_reserving = WriteSql(opts.trigger, opts.notify, opts.clock_skew_ms, true, opts.sink);
  impl->sql_advance = AdvanceSql(opts.trigger, opts.notify, opts.clock_skew_ms, opts.sink);
  if (impl->opts.notify == WriterOptions::NotifyMode::kAfterCommit) {
    try {
      impl->notify_conn = std::make_unique<pqxx::connection>(WithConnectTimeout(opts.dsn));
    } catch (const std::exception&) {
      // The loop retries at the first commit; relays poll meanwhile.
    }
    impl->notifier = std::thread([raw = impl.get()] { raw->NotifierLoop(); });
  }
  PgPool::Options pool_opts;
  pool_opts.dsn = opts.dsn;
  pool_opts.max_connections = opts.connections;
  pool_opts.application_name = "dualwrite-outbox-writer";
  s = PgPool::Create(pool_opts, &impl->pool);
  if (!s.ok()) return s;
  impl->leases.resize(opts.connections);
  impl->ids = std::make_unique<workload::OrderIdAllocator>(opts.dsn);
  try {
    impl->lock_conn = std::make_unique<pqxx::connection>(WithConnectTimeout(opts.dsn));
    pqxx::nontransaction tx{*impl->lock_conn};
    tx.exec("SELECT pg_advisory_lock_shared(" + std::to_string(kWriterLockKey) + ")");
  } catch (...) {
    return StatusFromPgException(nullptr, "taking the writers' lock");
  }
  Impl* raw = impl.get();
  impl->maintainer = std::thread([raw, po] {
    std::unique_lock<std::mutex> l(raw->mu);
    for (;;) {
      raw->cv.wait_for(l, raw->opts.maintain_interval, [raw] { return raw->closing; });
      if (raw->closing) return;
      l.unlock();
      MaintenanceReport report;
      // Best effort: Open made the first partitions, and a failed pass is
      // retried at the next interval.
      (void)MaintainPartitions(raw->opts.dsn, po, &report);
      l.lock();
    }
  });
  out->reset(new OutboxWriter(std::move(impl)));
  return Status::OK();
}

Status OutboxWriter::PlaceOrder(int worker, int64_t index, int64_t* order_id) {
  Status s = impl_->ids->Next(order_id);
  if (!s.ok()) return s;
  s = PlaceOrderWithId(worker, index, *order_id);
  if (!s.ok()) return s;
  const int64_t id = *order_id;
  return workload::RunFollowUpEvents(impl_->opts.events_per_order,
                                     [&](int n) { return PlaceEvent(worker, id, n); });
}

Status OutboxWriter::PlaceEvent(int worker, int64_t order_id, int n) {
  if (worker < 0 || worker >= static_cast<int>(impl_->leases.size())) {
    return Status::InvalidArgument("worker out of range");
  }
  if (n < 2) return Status::InvalidArgument("event numbers start at 2");
  PgPool::Lease& lease = impl_->leases[worker];
  if (!lease) {
    Status s = impl_->pool->Acquire(&lease);
    if (!s.ok()) return s;
  }
  SqlStatement update = workload::AdvanceOrderStatement(order_id, n);
  std::vector<std::string> params;
  for (const auto& p : update.params) params.push_back(p.value_or(""));
  // With the trigger the UPDATE alone: the capture trigger writes the event.
  if (!impl_->opts.trigger) {
    OutMessage m = workload::OrderEventMessage(order_id, n, impl_->opts.topic);
    params.insert(params.end(), {kOrderEntity, m.id, m.topic, m.key, m.payload});
  }
  const std::string what = "event " + std::to_string(n) + " of order " + std::to_string(order_id);
  size_t rows = 0;
  try {
    pqxx::nontransaction tx{lease.conn()};  // one statement = one transaction
    std::string name = lease.Prepared(impl_->sql_advance);
    if (name.empty()) {
      throw pqxx::usage_error("prepared statement cache full");
    }
    rows = tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(params)).affected_rows();
  } catch (...) {
    Status st = StatusFromPgException(&lease, what);
    lease.Reset();
    return st;
  }
  // No row at version n-1: nothing was written (the event is SELECTed FROM
  // the UPDATE's rows), and the order must not skip a version.
  if (rows != 1) {
    return Status::FailedPrecondition(what + ": the order is not at version " +
                                      std::to_string(n - 1));
  }
  if (impl_->opts.notify == WriterOptions::NotifyMode::kAfterCommit) impl_->MarkDirty();
  return Status::OK();
}

Status OutboxWriter::PlaceOrderWithId(int worker, int64_t index, int64_t order_id) {
  if (worker < 0 || worker >= static_cast<int>(impl_->leases.size())) {
    return Status::InvalidArgument("worker out of range");
  }
  PgPool::Lease& lease = impl_->leases[worker];
  if (!lease) {
    Status s = impl_->pool->Acquire(&lease);
    if (!s.ok()) return s;
  }
  workload::Order o = workload::MakeOrder(order_id, index, impl_->opts.seed);
  SqlStatement order = workload::InsertOrderStatement(o);
  OutMessage m = workload::OrderPlacedMessage(o, impl_->opts.topic);
  std::vector<std::string> params;
  for (const auto& p : order.params) params.push_back(p.value_or(""));
  if (!impl_->opts.trigger) {
    params.insert(params.end(), {kOrderEntity, m.id, m.topic, m.key, m.payload});
  }
  if (o.product > 0) params.push_back(std::to_string(o.product));
  const WriterOptions& wo = impl_->opts;
  Trace* tr = wo.trace;
  const std::string tid = tr ? "order-" + std::to_string(order_id) : std::string();
  if (tr && !tr->Begin(tid)) tr = nullptr;
  if (tr) {
    // One statement carries both inserts (and the commit, autocommit): the
    // steps are drawn apart but share one round trip.
    const std::string id = std::to_string(order_id);
    const std::string insert = "INSERT INTO orders (id " + id + ", ...)";
    tr->Send(tid, "postgres", wo.trigger ? insert : "WITH ord AS (" + insert + " RETURNING id)");
    tr->Send(tid, "postgres",
             wo.trigger ? std::string("(AFTER INSERT trigger on orders) INSERT INTO outbox_table")
             : wo.sink == WriterOptions::Sink::kPgq
                 ? "SELECT pgq.insert_event('" + std::string(kPgqQueue) + "', ..., '" + m.id +
                       "', ...) FROM ord  [same statement]"
             : wo.sink == WriterOptions::Sink::kEmit
                 ? "SELECT pg_logical_emit_message(true, '" + std::string(kEmitPrefix) +
                       "', {event_id " + m.id + ", ...}) FROM ord  [same statement]"
                 : "INSERT INTO outbox_table (event_id " + m.id +
                       ", ...) SELECT ... FROM ord  [same statement]");
    if (o.product > 0) {
      tr->Send(tid, "postgres",
               "UPDATE stock SET reserved = reserved + 1 WHERE product = " +
                   std::to_string(o.product) + "  [same statement]");
    }
    if (wo.notify == WriterOptions::NotifyMode::kInTransaction) {
      tr->Send(tid, "postgres", "SELECT pg_notify('outbox_new', '')  [same statement]");
    }
  }
  // kAfterCommit: the NOTIFY must follow the commit. Marking before the
  // statement would let the notifier fire before the row is visible.
  try {
    pqxx::nontransaction tx{lease.conn()};  // one statement = one transaction
    std::string name = lease.Prepared(o.product > 0 ? impl_->sql_reserving : impl_->sql);
    if (name.empty()) {
      throw pqxx::usage_error("prepared statement cache full");
    }
    tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(params));
  } catch (...) {
    Status st = StatusFromPgException(&lease, "placing order " + std::to_string(order_id));
    lease.Reset();
    if (tr) tr->Reply(tid, "postgres", "ROLLBACK: " + st.ToString());
    return st;
  }
  if (tr) {
    tr->Reply(tid, "postgres",
              "COMMIT (implicit, one-statement transaction): order and event durable");
  }
  if (wo.notify == WriterOptions::NotifyMode::kAfterCommit) {
    impl_->MarkDirty();
    if (tr) tr->Note(tid, "NOTIFY outbox_new due (one notifier connection, coalesced)");
  }
  return Status::OK();
}

}  // namespace dw::outbox
