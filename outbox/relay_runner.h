// RelayRunner: what `dualwrite outbox relay` runs. K instances of one
// strategy, each a thread with its own Relay (its own connections), plus one
// partition maintenance loop for the process.
//
// Each instance loops: Step; on error, capped exponential backoff with
// jitter (the broker is down or slow, Postgres restarted: nothing is lost,
// the rows wait in the outbox); after a full batch, Step again at once;
// otherwise wait for a wake-up (NOTIFY, replication data) or the poll
// interval. Housekeeping (the status reaper, offset-safe's stall report,
// cdc's slot check) runs about once a second.
//
// --until-drained, precisely: an instance exits once, after a Step that
// moved nothing,
//   1. no writer is running: no session of this database holds the writers'
//      advisory lock (schema.h, kWriterLockKey; every OutboxWriter, hence
//      every `outbox write`, holds it SHARED from before its first insert
//      until after its last commit), and then
//   2. the strategy reports Drained(): nothing it has yet to send is left
//      (skip-locked: no row; status: no row not 'sent', including rows a dead
//      relay left 'locked' - they are reaped first; offset-*: no row past the
//      position - offset-safe waits out open transactions; cdc: the stream
//      was read past the WAL position of that moment, and all of it was
//      published and confirmed).
// Because (1) is checked before (2), every row a writer committed is
// visible to (2). A relay started before any writer with --until-drained
// exits as soon as the outbox is empty: start the writers first.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "outbox/partitions.h"
#include "outbox/relay.h"

namespace dw::outbox {

struct RunnerOptions {
  int instances = 1;
  // skip-locked: instance i is key partition i of `instances`
  // (RelayOptions::key_partitions; `--partition-by key`).
  bool partition_by_key = false;
  bool until_drained = false;
  // Partition maintenance inside the relay (unsent_predicate is set from the strategy).
  bool maintain = true;
  PartitionOptions partitions;
  std::chrono::milliseconds maintain_interval{30000};
  // Set (e.g. from a signal handler) to stop: each instance finishes its Step.
  const std::atomic<bool>* stop = nullptr;
  // Stop after this long whatever the state (0: never); a safety net for tests.
  std::chrono::milliseconds max_run{0};
  // Errors and warnings, one line each (rate-limited); null: silent.
  std::ostream* log = nullptr;
};

struct RelayReport {
  std::string strategy;
  int instances = 0;
  uint64_t published = 0;
  uint64_t steps = 0;
  uint64_t errors = 0;
  uint64_t reaped = 0;
  double elapsed_s = 0;
  bool drained = false;  // every instance exited because of --until-drained
  std::string last_error;
  nlohmann::json table_stats = nlohmann::json::object();  // see OutboxTableStats
  nlohmann::json maintenance = nlohmann::json::object();  // created/dropped partition counts

  nlohmann::json ToJson() const;
  std::string ToText() const;
};

Status RunRelays(const RelayOptions& relay, const RunnerOptions& opts, RelayReport* report);

// True when some session of the database holds (or waits for) the writers' lock.
Status WritersRunning(const std::string& dsn, bool* running);

// pg_stat_user_tables summed over outbox_table's partitions: n_live_tup,
// n_dead_tup, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, vacuum_count,
// autovacuum_count, autoanalyze_count. (Statistics reach these views up to
// about a second after the sessions that caused them.)
Status OutboxTableStats(const std::string& dsn, nlohmann::json* out);

}  // namespace dw::outbox
