// Relay: moves outbox events to the broker. One class per strategy, all
// behind this interface; RelayRunner (relay_runner.h) drives K of them with
// backoff, wake-ups, housekeeping and --until-drained.
//
//   skip-locked   one transaction: DELETE the first B rows by id (FOR UPDATE
//                 SKIP LOCKED) RETURNING them, publish, COMMIT. A failure rolls
//                 the delete back. Correct with K relays.
//   status        claim (status 'new' -> 'locked', short transaction), publish,
//                 mark 'sent'; a reaper returns rows locked longer than the
//                 lease to 'new' (a relay that died).
//   offset-naive  the seed's outbox_counter: rows past the stored id (or
//                 created_dttm with --by time), publish, advance. LOSES rows
//                 whose transaction commits after a later row was relayed; it
//                 exists to demonstrate that.
//   offset-safe   the same, with (xid8, id) positions, reading only rows whose
//                 transaction is older than every running one
//                 (txid < pg_snapshot_xmin(pg_current_snapshot())). No loss;
//                 stalls while any transaction stays open (or prepared).
//   pgq           a PgQ consumer (relay_pgq.h): next_batch, get_batch_events,
//                 publish, finish_batch. Batches are cut by the ticker's
//                 snapshots: no loss on out-of-order commits, no per-event
//                 update or delete. One instance.
//   cdc           logical replication (pgoutput, publish_via_partition_root)
//                 over the streaming protocol; the flush position is
//                 confirmed only after the broker acknowledged.
//
// Contract: a Relay object is used by one thread. Start, Step and Drained
// return errors rather than throw; after an error the runner backs off and
// calls Step again (a relay reconnects by itself).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/trace.h"
#include "outbox/pgq_queue.h"

namespace dw::outbox {

enum class Strategy { kSkipLocked, kStatus, kOffsetNaive, kOffsetSafe, kCdc, kPgq };

class Publisher;  // publisher.h

const char* StrategyName(Strategy s);
Status ParseStrategy(std::string_view name, Strategy* out);

struct RelayOptions {
  std::string dsn;
  std::string broker_url;
  Strategy strategy = Strategy::kSkipLocked;
  int batch = 100;
  std::chrono::milliseconds broker_timeout{5000};
  // Where each instance publishes (publisher.h): unset, a BrokerClient for
  // broker_url. A test sets a fake here; each instance calls it once, from
  // its Start. (CreateRelay still wants a non-empty broker_url.)
  std::function<Status(std::unique_ptr<Publisher>*)> publisher;
  // Non-empty: publish to this NATS JetStream server instead of the broker
  // (jetstream_publisher.h); broker_url is then not used. The stream's
  // duplicate window, and how many publishes may await their ack at once.
  std::string nats_url;
  std::chrono::milliseconds dedupe_window{120000};
  int nats_max_pending = 4096;
  // Non-empty: publish to this RabbitMQ server (amqp://) instead of the
  // broker (rabbitmq_publisher.h); broker_url is then not used.
  std::string amqp_url;
  // Polling strategies: LISTEN for the writers' NOTIFY; poll anyway after this long.
  bool listen = true;
  std::chrono::milliseconds poll_interval{1000};
  // status: rows 'locked' for longer than this go back to 'new'.
  std::chrono::milliseconds lease{30000};
  // offset-naive: the position is the id (false) or created_dttm (true).
  bool by_time = false;
  // skip-locked: mark a sent row status = 'sent' instead of deleting it (the
  // seed's "delete or mark"); the rows then leave with their partition.
  bool mark_sent = false;
  // skip-locked with `--partition-by key` (key_partitions.h): this instance
  // is partition `key_partition` of `key_partitions` and claims only the rows
  // of its keys, waiting on a locked one instead of skipping it. 0 = off.
  // The runner sets both from its instances.
  int key_partitions = 0;
  int key_partition = 0;
  // skip-locked: claim the next batch on a second connection while this one
  // is published (`--pipeline`, relay_skip_locked_pipeline.h). Not with
  // key_partitions.
  bool pipeline = false;
  // cdc
  std::string slot;  // empty: "dw_outbox_<database>" (slot names are cluster-wide)
  std::string publication = "dw_outbox_pub";
  int64_t slot_warn_bytes = 1ll << 30;  // warn when the slot retains more WAL
  // How the slot is read: a WAL sender's stream (START_REPLICATION), or SQL
  // (cdc_sql_reader.h: chunks read with pg_logical_slot_get_binary_changes
  // from a temporary copy of the slot, one ahead; the slot itself advanced
  // after the broker's ack; `--cdc-read sql`).
  enum class CdcRead { kStream, kSql };
  CdcRead cdc_read = CdcRead::kStream;
  int cdc_sql_chunk_changes = 300000;  // sql: pgoutput rows per read (tests make it small)
  // pgq: the queue's ticker settings (applied at Start), and whether the
  // relay takes the ticks itself (pgq.ticker) instead of relying on pgqd.
  PgqTickerSettings pgq_ticker;
  bool pgq_self_tick = false;
  // A name for logs and status.locked_by; the runner sets "<host>:<pid>:<instance>".
  std::string instance_name = "relay";
  // Non-null: each batch's statements, broker calls and settlement are
  // recorded (`outbox relay --trace`); batches that find nothing are not.
  // Shared by every instance (Trace is thread-safe). Null costs nothing.
  Trace* trace = nullptr;
};

// Per-relay counters, cumulative.
struct RelayCounters {
  uint64_t published = 0;  // events acknowledged by the broker and settled in Postgres
  uint64_t steps = 0;      // Step calls that moved at least one event
  uint64_t reaped = 0;     // status: rows returned to 'new' by the reaper
};

class Relay {
 public:
  virtual ~Relay() = default;

  virtual Strategy strategy() const = 0;

  // Prepares what the strategy needs (counter row, LISTEN, publication and
  // slot). Idempotent; the runner calls it again after a failure.
  virtual Status Start() = 0;

  // One unit of work: reads up to `batch` events, publishes them, settles
  // them in Postgres. *moved = events published and settled by this call.
  virtual Status Step(int64_t* moved) = 0;

  // Blocks until there may be new work, or `max_wait` passed. True when
  // woken by new work (a NOTIFY, replication data) rather than the timeout.
  virtual bool WaitForWork(std::chrono::milliseconds max_wait) = 0;

  // Periodic chores (the reaper, the slot's retained WAL); the runner calls
  // it every second or so. Messages for the operator go to *warning.
  virtual Status Housekeeping(std::string* warning) {
    (void)warning;
    return Status::OK();
  }

  // True when no event this strategy has yet to send is left. The runner
  // asks only once no writer is running (see relay_runner.h): rows committed
  // by then are all visible. offset-safe answers false while a row it cannot
  // read yet (held back by an open transaction) exists.
  virtual Status Drained(bool* drained) = 0;

  virtual const RelayCounters& counters() const = 0;
};

Status CreateRelay(const RelayOptions& opts, std::unique_ptr<Relay>* out);

// A replication slot or publication name the cdc relay accepts:
// [a-z0-9_]{1,63}, Postgres' slot alphabet (the replication commands it is
// written into take no parameters).
bool ValidReplicationName(const std::string& name);

// SQL over the row alias `o`, true when the row is not yet sent under the
// strategy: what partition maintenance must not drop. Uses only the row and
// outbox_counter, so `outbox maintain` can evaluate it without a relay.
std::string UnsentPredicate(const RelayOptions& opts);

// The outbox_counter key of an offset strategy ("offset-naive:id",
// "offset-naive:time", "offset-safe") or of cdc's watermark ("cdc").
std::string CounterKey(const RelayOptions& opts);

}  // namespace dw::outbox
