// Partition maintenance of outbox_table. Postgres creates no partitions by
// itself, and an insert whose created_dttm has no partition fails, so
// partitions are created AHEAD of time; cleanup drops whole partitions once
// every row in them is sent, instead of a mass DELETE that leaves a million
// dead tuples for vacuum.
//
// One maintenance pass (MaintainPartitions):
//   1. takes the maintenance advisory lock (skips the pass if another session
//      holds it: the relay's loop and `outbox maintain` may overlap);
//   2. finishes detaches an interrupted DETACH ... CONCURRENTLY left pending;
//   3. creates the partitions covering [now - grace, now + (ahead + 1) * width),
//      aligned to multiples of the width since the Unix epoch (UTC), as
//      CREATE TABLE + ATTACH PARTITION: ATTACH takes only SHARE UPDATE
//      EXCLUSIVE on the parent, so writers (ROW EXCLUSIVE) are never blocked,
//      where CREATE TABLE ... PARTITION OF would queue an ACCESS EXCLUSIVE
//      lock behind any open writer and stall every writer behind it. Ranges
//      already covered by existing partitions (of any width) are skipped, so
//      changing the width is safe;
//   4. for each partition whose upper bound is older than `grace`:
//      - skips it if a row in it is still unsent (the strategy's predicate);
//      - DETACH PARTITION ... CONCURRENTLY (plain DETACH when a DEFAULT
//        partition exists, where CONCURRENTLY is not allowed). After the
//        detach no insert can land in it any more;
//      - checks again (a transaction that started before the bound may have
//        committed a row into it meanwhile): all sent -> DROP TABLE; else it
//        is attached again, with the same bounds.
// DDL runs with a lock_timeout: a maintenance pass that cannot get its lock
// gives up (reported) instead of queueing ahead of writers.
//
// Step 3 has two implementations (the partitioner): the built-in one above,
// or pg_partman's run_maintenance (partman.h), used when asked for
// (--partitioner partman) and, once outbox_table is registered in
// partman.part_config, by every pass whatever it asked for. Steps 1, 2 and 4
// are the same for both: dropping is never pg_partman's.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace dw::outbox {

// Who creates partitions ahead (step 3). See partman.h.
enum class Partitioner { kBuiltin, kPartman };
const char* PartitionerName(Partitioner p);  // "builtin", "partman"
Status ParsePartitioner(std::string_view text, Partitioner* out);

struct PartitionOptions {
  // kBuiltin also means "whatever manages the table": a table registered
  // with pg_partman stays pg_partman's.
  Partitioner partitioner = Partitioner::kBuiltin;
  // Under pg_partman both are read once, when the table is registered
  // (part_config.partition_interval, premake = max(1, ahead)).
  std::chrono::seconds width{86400};  // 1 day; 1 minute for experiments
  int ahead = 2;                      // partitions kept ready past the current one
  // A partition is considered for dropping once its upper bound is this far
  // in the past: a transaction that started earlier may still insert into it.
  std::chrono::seconds grace{60};
  bool drop = true;  // false: only create (what writers do)
  // SQL over the row alias `o`: true when the row is not yet sent. From
  // UnsentPredicate() (relay.h) for the strategy in use.
  std::string unsent_predicate = "o.status <> 'sent'";
  std::chrono::milliseconds lock_timeout{2000};
};

struct MaintenanceReport {
  bool skipped = false;  // another session held the maintenance lock
  // Which one created partitions in this pass: "builtin" or "partman".
  std::string partitioner = "builtin";
  bool registered = false;           // partman: this pass registered outbox_table
  std::vector<std::string> renamed;  // partman: "old -> new" (names made partman's)
  std::vector<std::string> notes;    // partman: configuration this pass corrected
  std::vector<std::string> created;
  std::vector<std::string> dropped;
  std::vector<std::string> kept;       // old but with unsent rows
  std::vector<std::string> finalized;  // pending detaches finished
  std::vector<std::string> errors;     // per-partition failures (lock timeouts, ...)
  int partitions = 0;                  // attached partitions after the pass

  nlohmann::json ToJson() const;
  std::string ToText() const;
};

// "1d", "24h", "90m", "1min", "30s", "3600" (seconds). 1 s .. 7 days.
Status ParseWidth(std::string_view text, std::chrono::seconds* out);

// One pass (see above). Fails only when the pass could not run at all
// (Postgres unreachable, no outbox_table); per-partition trouble goes to
// report->errors.
Status MaintainPartitions(const std::string& dsn, const PartitionOptions& opts,
                          MaintenanceReport* report);

struct PartitionInfo {
  std::string name;
  int64_t from_us = 0;  // unix µs, inclusive
  int64_t to_us = 0;    // exclusive
  bool detach_pending = false;
  bool parsed = true;  // false: DEFAULT or MINVALUE/MAXVALUE bounds
};

// The partitions attached to outbox_table, ordered by lower bound.
Status ListPartitions(const std::string& dsn, std::vector<PartitionInfo>* out);

// The partition name for a range starting at `from_us`: outbox_table_pYYYYMMDD_HHMMSS (UTC).
std::string PartitionName(int64_t from_us);

}  // namespace dw::outbox
