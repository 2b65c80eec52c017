// OutboxWriter: the "place order" operation of the outbox approach. The
// order row and its event row are written in ONE local transaction, so
// either both exist or neither: the event can no longer be lost or escape a
// rolled-back order, whatever happens to the broker. A relay publishes it
// later.
//
// The transaction is one statement (a data-modifying CTE, atomic as any
// single statement), sent as a prepared statement: one round trip per
// order where BEGIN / INSERT / INSERT / COMMIT would take four.
//   WITH ord AS (INSERT INTO orders ... RETURNING id)
//   INSERT INTO outbox_table (...) SELECT ... FROM ord
// or, with the PgQ sink,
//   WITH ord AS (...) SELECT pgq.insert_event('dw_outbox', ...) FROM ord
// or, with the emit sink (no table at all),
//   WITH ord AS (...) SELECT pg_logical_emit_message(true, 'dw_outbox', ...) FROM ord
// With `trigger` the writer only inserts the order; the capture trigger on
// `orders` (schema.h) writes the outbox row inside the same transaction.
// An order with a product (`--hot-rows`, workload/stock.h) also reserves its
// stock in that statement, as one more CTE:
//   WITH stk AS (UPDATE stock SET reserved = reserved + 1 WHERE product = $9), ord AS ...
//
// Wake-ups for the relays (NotifyMode):
//   kAfterCommit (default): after a commit the worker marks "dirty"; one
//     notifier connection per writer sends `NOTIFY outbox_new` whenever
//     dirty, coalescing every commit since its previous NOTIFY into one.
//     Each commit is followed by a NOTIFY sent after it, so a relay woken by
//     it sees the row.
//   kInTransaction: pg_notify() inside the writing transaction, the
//     textbook way. Measured here: it serialises commits cluster-wide (a
//     notifying commit holds a global lock through its WAL flush): 8
//     clients drop from ~4,000 to ~300 transactions/s. Kept to show that.
//   kOff: relays find rows by polling only.
//
// While it exists, the writer holds the writers' advisory lock SHARED on a
// connection of its own (schema.h, kWriterLockKey): a relay with
// --until-drained waits for it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/trace.h"
#include "outbox/partitions.h"
#include "workload/orders.h"

namespace dw::outbox {

struct WriterOptions {
  std::string dsn;
  int connections = 1;  // one per concurrent worker
  bool trigger = false;
  // Where the event goes, in the order's transaction: an outbox_table row
  // (kTable), or a PgQ event (kPgq: pgq.insert_event, outbox/pgq_queue.h;
  // the queue is created at Open; no trigger, no clock skew, and no NOTIFY,
  // since the pgq relay waits for ticks, not commits).
  // Or kEmit: pg_logical_emit_message into the WAL only (emit_message.h),
  // read by the cdc relay; Open refuses while the database has no logical
  // slot, since a message emitted before one exists reaches nobody.
  enum class Sink { kTable, kPgq, kEmit };
  Sink sink = Sink::kTable;
  enum class NotifyMode { kOff, kInTransaction, kAfterCommit };
  NotifyMode notify = NotifyMode::kAfterCommit;
  std::string topic = workload::kOrdersTopic;
  uint64_t seed = 1;
  // Non-zero: created_dttm is stamped with this writer's clock, off by this
  // much, instead of the server's now() (the clock-skew experiment of the
  // time-based offset relay). Not with `trigger`.
  int64_t clock_skew_ms = 0;
  // Partitions are created ahead at Open and by a background loop, so a long
  // run without a relay never meets a missing partition.
  PartitionOptions partitions;
  std::chrono::milliseconds maintain_interval{30000};
  // Events per order (`--events-per-order`): 1 = OrderPlaced only; above 1
  // PlaceOrder also writes events 2..E, and Open adds the orders' version
  // columns (with `trigger`, and its AFTER UPDATE capture of events 2..E).
  int events_per_order = 1;
  // Non-null: each order's statement and outcome are recorded (id
  // "order-<id>"; `outbox write --trace`). Null costs nothing.
  Trace* trace = nullptr;
};

class OutboxWriter {
 public:
  // Creates the schemas (orders, outbox, and the stock of the process-wide
  // hot-rows setting when it is on) and partitions, installs (trigger)
  // or checks the absence of (explicit) the capture trigger, takes the
  // writers' lock. FailedPrecondition when the capture trigger is installed
  // and `trigger` is false: each event would be written twice.
  static Status Open(const WriterOptions& opts, std::unique_ptr<OutboxWriter>* out);
  ~OutboxWriter();

  // Places order number `index` of the run on worker `worker`'s connection
  // (0 <= worker < connections), then its events 2..events_per_order, each
  // once the previous one committed (stopping at the first that fails).
  // *order_id receives the id used. Thread-safe across workers; one call at
  // a time per worker.
  Status PlaceOrder(int worker, int64_t index, int64_t* order_id);

  // Event n >= 2 of an order (workload/order_events.h): the UPDATE to
  // version n and its event in one statement (with `trigger`, the UPDATE,
  // whose capture trigger writes the event). FailedPrecondition, nothing
  // written, when the order is not at version n-1. Needs the version columns
  // (Open adds them when events_per_order > 1).
  Status PlaceEvent(int worker, int64_t order_id, int n);

  // Same, with an order id chosen by the caller (tests).
  Status PlaceOrderWithId(int worker, int64_t index, int64_t order_id);

 private:
  struct Impl;
  explicit OutboxWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dw::outbox
