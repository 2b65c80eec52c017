// The results of `dualwrite compare` as types: the one place the schema of
// results.json (docs/compare-results.md, `dualwrite-compare/2`, and the
// version-1 keys it still reads) lives as code.
//
// Every key is a Field (compare/results_field.h): absent, null (could not be
// measured) or a value, so a file read into a Run and written back is the
// same JSON, versions 1 and 2 alike. Each struct's `extra` keeps what the
// schema does not name (a fault's own figures, a key a newer writer added);
// the keys each struct reads and writes are listed once, in
// compare/results_load.cc, compare/results_failure.cc, compare/results_order.cc
// and compare/results.cc.
//
// Units are in the names as in the file: _ms, _s, _us, _per_op, _per_s.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "compare/results_field.h"

namespace dw::compare::results {

inline constexpr const char* kSchema = "dualwrite-compare/2";
inline constexpr const char* kSchemaV1 = "dualwrite-compare/1";

// ---------------------------------------------------------------- pieces

// Latency percentiles in milliseconds (latency_ms, e2e_ms with `count`), and
// the shorter {p50, p99, max, count} of pending_age_ms, projection_lag_ms and
// fail_ms ({p50, p99}): the keys a file lacks stay absent.
struct Percentiles {
  Field<double> p50, p95, p99, p999, max, mean;
  Field<int64_t> count;
  json extra;
};

// One point of a CDF, written [latency_ms, fraction].
struct CdfPoint {
  double latency_ms = 0;
  double fraction = 0;
};

// [min, max] over a repeated cell's runs.
struct MinMax {
  double min = 0;
  double max = 0;
};

// `range` of a repeated load cell.
struct Ranges {
  Field<MinMax> throughput_per_s, delivered_per_s, latency_p50_ms, latency_p99_ms, e2e_p50_ms,
      e2e_p99_ms, cpu_total_us_per_op;
  json extra;
};

// Postgres and broker cost per committed operation over a cell.
struct Cost {
  Field<double> wal_bytes_per_op, wal_syncs_per_op, wal_writes_per_op, dead_tuples_per_op;
  Field<int64_t> autovacuum_runs;
  Field<double> broker_fsyncs_per_op;
  json extra;
};

// CPU microseconds per committed operation, per party; null where the party
// did not run or could not be read.
struct CpuPerOp {
  // agents: 3PC's participant agents (absent before 2026-12-06 and for the
  // other approaches).
  Field<double> postgres, broker, load, relay, agents, total;
  json extra;
};

// `verify` after a cell; a saga's carries saga verify's own report.
struct Verify {
  Field<bool> ok;
  Field<int64_t> missing, orphans, duplicates, in_doubt;
  Field<int64_t> saga_violations;  // saga only
  Field<json> saga;                // saga only: `dualwrite saga verify --json`
  Field<std::string> error;        // verify itself failed
  json extra;
};

// The saga's dirty reads (`saga run --dirty-read-probe`): a second session
// polled the open sagas every `interval_ms` and remembered each order it read
// while 'pending'; after the run, how those orders ended. then_cancelled
// counts reads of an order that never happened.
struct DirtyReads {
  Field<int64_t> interval_ms, polls, orders_seen_pending, then_placed, then_cancelled,
      still_pending, errors;
  json extra;
};

// ---------------------------------------------------------------- load cells

// A load cell of section 1 (latency, rate_grid, contention, relay_scaling;
// version 1's open_loop).
struct LoadCell {
  Field<std::string> approach;
  Field<std::string> mode;  // "closed" | "open"
  Field<int64_t> concurrency;
  Field<double> rate;  // offered arrivals per second; 0 in closed loop
  Field<int64_t> hot_rows;
  Field<double> hot_skew;
  Field<int64_t> repetitions;
  Field<Ranges> range;  // null when the cell ran once
  Field<std::string> error;
  // From the load command's --json summary.
  Field<int64_t> committed, aborted, failed;
  Field<double> elapsed_s, throughput_per_s;
  Field<double> warmup_s;
  Field<Percentiles> latency_ms, e2e_ms;
  Field<std::vector<CdfPoint>> cdf, e2e_cdf;
  Field<Cost> cost;
  Field<CpuPerOp> cpu_us_per_op;
  Field<double> drain_s;
  Field<int64_t> delivered;
  Field<double> delivered_per_s, last_delivery_s;
  // Open loop only (null in closed loop).
  Field<int64_t> offered;
  Field<double> achieved_fraction, backlog_growth_per_s;
  Field<bool> sustained;
  Field<std::vector<std::string>> sustain_failures;
  // The relay's deployment (outbox), else null.
  Field<int64_t> instances, batch;
  Field<Verify> verify;
  Field<Percentiles> pending_age_ms;     // saga
  Field<DirtyReads> dirty_reads;         // saga, since 2026-12-06
  Field<Percentiles> projection_lag_ms;  // event-sourced
  Field<std::string> command;
  Field<std::vector<std::string>> notes;  // a repeated cell's failed repetitions
  Field<double> fraction_of_saturation;   // version 1's open loop
  json extra;
};

// ---------------------------------------------------------------- failure cells

struct FaultWindow {
  Field<double> start_s, end_s;
  json extra;
};

// Operations by intended start, during the fault (`ops`) or the whole cell
// (`ops_total`); offered and availability since version 2.
struct Ops {
  Field<int64_t> attempted, succeeded, failed;
  Field<double> offered, availability;
  json extra;
};

// One 250 ms bucket of `timeline`, t_s from the fault's start.
struct TimelineBucket {
  Field<double> t_s;
  Field<int64_t> ok, failed;
  Field<double> p99_ms;
  Field<double> offered;
  json extra;
};

// `lost_timeline`: cumulative lost messages by intended start.
struct LostPoint {
  Field<double> t_s;
  Field<int64_t> lost;
  json extra;
};

// `backlog`: unsent outbox rows.
struct BacklogPoint {
  Field<double> t_s;
  Field<int64_t> rows;
  json extra;
};

// The history checker's verdict (compare/history.h).
struct History {
  Field<bool> ok;
  Field<int64_t> acknowledged, ack_missing_row, ack_missing_message, ack_duplicated, aborted,
      aborted_with_row, aborted_with_message, unknown, unknown_committed, unknown_split;
  Field<std::vector<int64_t>> examples;
  Field<std::string> error;  // the checker could not run
  json extra;
};

// in-doubt-held only.
struct Vacuum {
  Field<int64_t> dead_tuples_kept_while_held, dead_tuples_left_after_release;
  json extra;
};

// A failure cell of section 2 (and of `dualwrite chaos`).
struct FailureCell {
  Field<std::string> scenario, approach;
  Field<std::string> status;  // ran | n/a | skipped | error
  Field<std::string> reason;
  Field<bool> guaranteed;
  Field<std::string> verdict;  // clean | violations | expected-loss | not-run
  Field<std::vector<std::string>> notes;
  Field<FaultWindow> fault;
  Field<double> offered_rate_per_s;
  Field<Ops> ops, ops_total;
  Field<int64_t> lost, orphans, duplicates;
  Field<uint64_t> duplicates_before_dedupe;  // a difference of two broker counters
  Field<int64_t> in_doubt_max;
  Field<double> in_doubt_max_age_s;
  Field<int64_t> in_doubt_at_end;
  Field<double> probe_blocked_ms, converge_s;
  Field<double> p99_before_ms, p99_during_ms, p99_ok_during_ms;
  Field<Percentiles> fail_ms;
  Field<std::vector<TimelineBucket>> timeline;
  Field<std::vector<LostPoint>> lost_timeline;
  Field<std::vector<BacklogPoint>> backlog;
  Field<Percentiles> pending_age_ms, projection_lag_ms;
  Field<DirtyReads> dirty_reads;  // saga, when its load printed a summary
  Field<Verify> verify;
  Field<History> history;
  Field<Vacuum> vacuum;
  Field<std::string> command;
  json extra;
};

// ---------------------------------------------------------------- the run

struct Machine {
  Field<std::string> cpu;
  Field<int64_t> cores;
  Field<double> memory_gib;
  Field<std::string> kernel, postgres_version;
  Field<std::map<std::string, std::string>> postgres_settings;  // SHOW name -> value
  Field<std::string> fsync_method, broker_fsync, dualwrite_commit;
  json extra;
};

// How an outbox relay was deployed.
struct RelayDeployment {
  Field<std::string> strategy;
  Field<int64_t> batch, instances;
  json extra;
};

struct Settings {
  Field<std::string> environment, dsn, broker;
  Field<int64_t> repetitions;
  Field<std::vector<int64_t>> concurrency;
  Field<double> cell_duration_s, warmup_s;
  Field<int64_t> min_ops_per_cell;
  Field<std::vector<double>> rate_grid;
  Field<double> open_loop_duration_s;
  Field<int64_t> open_loop_concurrency;
  Field<double> e2e_bound_ms;
  Field<std::vector<int64_t>> hot_rows;
  Field<int64_t> contention_concurrency;
  Field<double> fault_s, steady_s, after_s;
  Field<int64_t> failure_concurrency;
  Field<double> converge_timeout_s;
  Field<std::string> only;
  Field<std::string> scenarios;  // --scenarios, absent when not given
  Field<std::map<std::string, RelayDeployment>> relays;
  // 2PC's lockstep (Approach::lockstep_batch): closed-loop cells of at
  // least `coordinator_batch_from` orders in flight, no hot rows, ran
  // `2pc run --batch coordinator_batch`. Absent before 2026-12-07 and in
  // runs without a 2PC approach, which means one order per thread.
  Field<int64_t> coordinator_batch, coordinator_batch_from;
  Field<double> failure_rate_per_s;
  // Where the outbox published: "dualwrite" (its broker, a process per cell),
  // "nats" or "rabbitmq" (one real server for the run; absent before
  // 2026-12-06, which means dualwrite). With a real sink, `not_measured`
  // names each selected approach that did not run, with why.
  Field<std::string> sink;
  Field<std::map<std::string, std::string>> not_measured;
  // Version 1: the open loop at fractions of each approach's saturation.
  Field<std::vector<double>> open_loop_fractions;
  Field<std::map<std::string, std::vector<double>>> open_loop_rates;
  json extra;
};

struct ApproachInfo {
  Field<std::string> name, family, description;
  Field<bool> guaranteed;
  json extra;
};

struct Sustainable {
  Field<double> rate_per_s, first_unsustained_per_s;
  json extra;
};

struct RateGrid {
  Field<std::vector<double>> rates;
  Field<double> e2e_bound_ms;
  Field<std::vector<LoadCell>> cells;
  Field<std::map<std::string, Sustainable>> sustainable;
  json extra;
};

struct Contention {
  Field<int64_t> concurrency;
  Field<std::vector<int64_t>> hot_rows;
  Field<std::vector<LoadCell>> cells;
  json extra;
};

struct RelayScaling {
  Field<int64_t> concurrency;
  Field<std::vector<LoadCell>> cells;
  json extra;
};

struct ScenarioInfo {
  Field<std::string> name, title, description;
  Field<double> fault_s;
  json extra;
};

struct Failures {
  Field<double> rate_per_s;
  Field<std::vector<ScenarioInfo>> scenarios;
  Field<std::vector<FailureCell>> cells;
  json extra;
};

// ---------------------------------------------------------------- order per key

// The first inversion of a reordered order: event `later_version` read at
// `later_offset`, before event `version` (lower) at `offset`.
struct Inversion {
  Field<int64_t> order, later_version, later_offset, version, offset;
  json extra;
};

// A cell of `order_per_key`: one deployment of one approach (K instances,
// partitioned by key or not), healthy or under one fault.
struct OrderCell {
  Field<std::string> approach, family;
  Field<int64_t> instances;  // null for 2PC
  Field<bool> partitioned;
  Field<std::string> fault;  // null: healthy
  Field<int64_t> orders, events_per_order, batch;
  Field<std::string> status, reason;  // ran | n/a | error
  Field<int64_t> events_written, events_read, keys, keys_reordered;
  Field<Inversion> first_inversion;
  Field<int64_t> gaps, ahead, duplicates, lost;
  Field<double> drain_s, drain_rate_per_s;
  Field<int64_t> later_events_failed;  // 2PC only
  Field<Verify> verify;
  Field<std::vector<std::string>> notes;
  Field<std::string> command;
  json extra;
};

struct OrderPerKey {
  Field<int64_t> orders, events_per_order, writers, batch;
  Field<double> fault_s;
  Field<std::vector<OrderCell>> cells;
  json extra;
};

// The whole of results.json.
struct Run {
  Field<std::string> schema, command, size;
  Field<uint64_t> seed;
  Field<std::string> started_at, finished_at;
  Field<double> duration_s;
  Field<Machine> machine;
  Field<Settings> settings;
  Field<std::vector<ApproachInfo>> approaches;
  Field<std::vector<LoadCell>> latency;
  Field<std::vector<LoadCell>> open_loop;  // version 1
  Field<RateGrid> rate_grid;
  Field<Contention> contention;
  Field<RelayScaling> relay_scaling;
  Field<Failures> failures;
  Field<OrderPerKey> order_per_key;  // absent in runs without the section
  Field<std::vector<std::string>> errors;
  json extra;
};

// ---------------------------------------------------------------- JSON
// Read(j, &x) is false only when j is not of x's shape (an object, or the
// two-number array of CdfPoint and MinMax); inside it, a mistyped key goes
// to `extra` and reading goes on. Write(x) is the JSON x was read from.
bool Read(const json& j, Percentiles* out);
bool Read(const json& j, CdfPoint* out);
bool Read(const json& j, MinMax* out);
bool Read(const json& j, Ranges* out);
bool Read(const json& j, Cost* out);
bool Read(const json& j, CpuPerOp* out);
bool Read(const json& j, Verify* out);
bool Read(const json& j, DirtyReads* out);
bool Read(const json& j, LoadCell* out);
bool Read(const json& j, FaultWindow* out);
bool Read(const json& j, Ops* out);
bool Read(const json& j, TimelineBucket* out);
bool Read(const json& j, LostPoint* out);
bool Read(const json& j, BacklogPoint* out);
bool Read(const json& j, History* out);
bool Read(const json& j, Vacuum* out);
bool Read(const json& j, FailureCell* out);
bool Read(const json& j, Machine* out);
bool Read(const json& j, RelayDeployment* out);
bool Read(const json& j, Settings* out);
bool Read(const json& j, ApproachInfo* out);
bool Read(const json& j, Sustainable* out);
bool Read(const json& j, RateGrid* out);
bool Read(const json& j, Contention* out);
bool Read(const json& j, RelayScaling* out);
bool Read(const json& j, ScenarioInfo* out);
bool Read(const json& j, Failures* out);
bool Read(const json& j, Inversion* out);
bool Read(const json& j, OrderCell* out);
bool Read(const json& j, OrderPerKey* out);
bool Read(const json& j, Run* out);

json Write(const Percentiles& v);
json Write(const CdfPoint& v);
json Write(const MinMax& v);
json Write(const Ranges& v);
json Write(const Cost& v);
json Write(const CpuPerOp& v);
json Write(const Verify& v);
json Write(const DirtyReads& v);
json Write(const LoadCell& v);
json Write(const FaultWindow& v);
json Write(const Ops& v);
json Write(const TimelineBucket& v);
json Write(const LostPoint& v);
json Write(const BacklogPoint& v);
json Write(const History& v);
json Write(const Vacuum& v);
json Write(const FailureCell& v);
json Write(const Machine& v);
json Write(const RelayDeployment& v);
json Write(const Settings& v);
json Write(const ApproachInfo& v);
json Write(const Sustainable& v);
json Write(const RateGrid& v);
json Write(const Contention& v);
json Write(const RelayScaling& v);
json Write(const ScenarioInfo& v);
json Write(const Failures& v);
json Write(const Inversion& v);
json Write(const OrderCell& v);
json Write(const OrderPerKey& v);
json Write(const Run& v);

// results.json as a Run: a file that is not a JSON object reads as an empty
// Run whose `extra` is null (Write then gives an empty object).
Run ParseRun(const json& j);

// `j` read as an S: null when j is null or not of S's shape.
template <class S>
Field<S> ReadField(const json& j) {
  S v{};
  if (j.is_null() || !Read(j, &v)) return nullptr;
  return v;
}

// nlohmann's conversions for the structs above that have an `extra`, so
// `json j = cell;` and `j.get<LoadCell>()` work (a value of the wrong shape
// gets a default struct).
template <class S, class = decltype(std::declval<const S&>().extra),
          class = decltype(Write(std::declval<const S&>()))>
void to_json(json& j, const S& v) {
  j = Write(v);
}
template <class S, class = decltype(std::declval<S&>().extra),
          class = decltype(Read(std::declval<const json&>(), std::declval<S*>()))>
void from_json(const json& j, S& v) {
  if (!Read(j, &v)) v = S();
}

}  // namespace dw::compare::results
