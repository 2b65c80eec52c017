// Projector: the read side of event sourcing, broker first. The events on
// the broker's topic are the source of truth; the `orders` table is a read
// model built from them. One batch at a time:
//
//   read up to `batch` events from the topic at the stored offset
//   BEGIN
//     INSERT the OrderPlaced events' rows ... ON CONFLICT (id) DO NOTHING
//     UPDATE es_offsets SET next_offset = <after the batch>
//       WHERE projector = <name> AND next_offset = <where the batch began>
//   COMMIT
//
// The offset moves in the same transaction as the rows it covers, so a
// projector killed at any moment resumes exactly after its last commit:
// nothing is skipped and nothing is applied twice. The compare-and-set on
// the offset makes a second projector with the same name harmless: the one
// that loses the race rolls back its batch and re-reads the offset
// (counted as `conflicts`). ON CONFLICT DO NOTHING makes the rows idempotent
// on the order id as well, for events the broker delivers twice (a publish
// retried under another id is still one order; counted as `duplicates`).
//
// An order's later events (`--events-per-order`, workload/order_events.h:
// id "order-<id>-<n>", payload {type, order_id, status, version: n}) move
// its row from version n-1 to n, in the same transaction as the batch's
// INSERT and offset:
//     UPDATE orders SET status, version = n WHERE id = <id> AND version = n-1
// one UPDATE per version present in the batch, lowest first, after the
// INSERT, so an order placed and advanced within one batch ends at its last
// version. An event whose row is not at n-1 (a redelivery, already applied;
// or no row) changes nothing and is counted as `stale`: a row never moves
// backwards. The version columns are added (workload::
// EnsureOrderVersionColumns) on the first batch that holds such an event; a
// topic of OrderPlaced events only runs exactly the statements it always did.
//
// Events of no kind above (another event type on the same topic, a key that
// is not an order id) advance the offset and are counted as `skipped`.
//
// Read-ahead: while a batch's transaction runs, the next batch (from where
// this one ends) is already being read from the broker, so the two round
// trips overlap. It is used only if the stored offset is still where it
// expected to start; otherwise it is dropped and the batch read again.
//
// Lag: for every projected event, (the batch's commit) - (the moment the
// broker made the event visible, BrokerMessage::ts_ms): how long a reader of
// the read model could not see a write the broker had acknowledged.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/histogram.h"
#include "common/status.h"

#include "participants/broker_client.h"

namespace dw::es {

struct ProjectorOptions {
  std::string dsn;
  std::string broker_url;
  std::string topic = "orders";
  std::string name = "orders";  // the row of es_offsets this projector owns
  size_t batch = 1000;
  std::chrono::milliseconds idle_wait{20};  // sleep when the topic has nothing new
  // Test hook: SIGKILL this process after the INSERT of batch number N (1-based)
  // and before its COMMIT (0: never).
  int64_t crash_after_insert_of_batch = 0;
};

struct ProjectorStats {
  uint64_t batches = 0;     // committed batches that held at least one event
  uint64_t events = 0;      // events consumed (offset advanced past them)
  uint64_t rows = 0;        // rows inserted
  uint64_t duplicates = 0;  // OrderPlaced events whose row already existed
  uint64_t skipped = 0;     // events neither OrderPlaced nor an order's later event
  uint64_t advanced = 0;    // later events applied (rows moved to their version)
  uint64_t stale = 0;       // later events whose row was not at the version before
  uint64_t conflicts = 0;   // batches rolled back: another projector moved the offset
  uint64_t next_offset = 0;
  Histogram lag_us;  // broker visibility -> row committed
  double elapsed_s = 0;

  nlohmann::json ToJson() const;
  std::string ToText() const;
};

class Projector {
 public:
  // Creates `orders` (workload's schema) and es_offsets if absent, and this
  // projector's offset row (at 0) if it has none.
  static Status Open(const ProjectorOptions& opts, std::unique_ptr<Projector>* out);
  ~Projector();

  // One batch. *caught_up: the topic had nothing beyond the stored offset.
  Status Step(bool* caught_up);

  // Steps until `stop` is set, or, with until_caught_up, until a Step finds
  // nothing new; or until `max_run` (0: no limit) has passed. Postgres or
  // broker errors are retried (with a short pause) until `error_budget`
  // passes without one success, then returned.
  Status Run(const std::atomic<bool>& stop, bool until_caught_up, std::chrono::milliseconds max_run,
             std::chrono::milliseconds error_budget = std::chrono::seconds(60));

  const ProjectorStats& stats() const { return stats_; }

 private:
  explicit Projector(const ProjectorOptions& opts);
  Status Connect();
  // The version columns, and the later events' UPDATE prepared on this connection.
  Status EnsureAdvance();

  struct Batch {
    Status status;
    uint64_t from = 0, next = 0;
    std::vector<BrokerMessage> events;
  };
  Batch ReadBatch(uint64_t from);
  // The batch at `from`: the read-ahead when it started there, else read now.
  Batch TakeBatch(uint64_t from);

  ProjectorOptions opts_;
  std::future<Batch> ahead_;
  struct Pg;
  std::unique_ptr<Pg> pg_;
  bool version_columns_ = false;  // EnsureOrderVersionColumns ran
  std::unique_ptr<BrokerClient> broker_;
  ProjectorStats stats_;
};

}  // namespace dw::es
