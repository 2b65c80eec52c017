// The keys of a load cell and of the pieces it shares with failure cells
// (docs/compare-results.md, "Load cell").
#include "compare/results.h"

namespace dw::compare::results {
namespace {

constexpr auto kPercentiles = [](auto& io, auto& c) {
  io("p50", c.p50);
  io("p95", c.p95);
  io("p99", c.p99);
  io("p999", c.p999);
  io("max", c.max);
  io("mean", c.mean);
  io("count", c.count);
};

constexpr auto kRanges = [](auto& io, auto& c) {
  io("throughput_per_s", c.throughput_per_s);
  io("delivered_per_s", c.delivered_per_s);
  io("latency_p50_ms", c.latency_p50_ms);
  io("latency_p99_ms", c.latency_p99_ms);
  io("e2e_p50_ms", c.e2e_p50_ms);
  io("e2e_p99_ms", c.e2e_p99_ms);
  io("cpu_total_us_per_op", c.cpu_total_us_per_op);
};

constexpr auto kCost = [](auto& io, auto& c) {
  io("wal_bytes_per_op", c.wal_bytes_per_op);
  io("wal_syncs_per_op", c.wal_syncs_per_op);
  io("wal_writes_per_op", c.wal_writes_per_op);
  io("dead_tuples_per_op", c.dead_tuples_per_op);
  io("autovacuum_runs", c.autovacuum_runs);
  io("broker_fsyncs_per_op", c.broker_fsyncs_per_op);
};

constexpr auto kCpuPerOp = [](auto& io, auto& c) {
  io("postgres", c.postgres);
  io("broker", c.broker);
  io("load", c.load);
  io("relay", c.relay);
  io("agents", c.agents);
  io("total", c.total);
};

constexpr auto kVerify = [](auto& io, auto& c) {
  io("ok", c.ok);
  io("missing", c.missing);
  io("orphans", c.orphans);
  io("duplicates", c.duplicates);
  io("in_doubt", c.in_doubt);
  io("saga_violations", c.saga_violations);
  io("saga", c.saga);
  io("error", c.error);
};

constexpr auto kLoadCell = [](auto& io, auto& c) {
  io("approach", c.approach);
  io("mode", c.mode);
  io("concurrency", c.concurrency);
  io("rate", c.rate);
  io("hot_rows", c.hot_rows);
  io("hot_skew", c.hot_skew);
  io("repetitions", c.repetitions);
  io("range", c.range);
  io("error", c.error);
  io("committed", c.committed);
  io("aborted", c.aborted);
  io("failed", c.failed);
  io("elapsed_s", c.elapsed_s);
  io("throughput_per_s", c.throughput_per_s);
  io("warmup_s", c.warmup_s);
  io("latency_ms", c.latency_ms);
  io("e2e_ms", c.e2e_ms);
  io("cdf", c.cdf);
  io("e2e_cdf", c.e2e_cdf);
  io("cost", c.cost);
  io("cpu_us_per_op", c.cpu_us_per_op);
  io("drain_s", c.drain_s);
  io("delivered", c.delivered);
  io("delivered_per_s", c.delivered_per_s);
  io("last_delivery_s", c.last_delivery_s);
  io("offered", c.offered);
  io("achieved_fraction", c.achieved_fraction);
  io("backlog_growth_per_s", c.backlog_growth_per_s);
  io("sustained", c.sustained);
  io("sustain_failures", c.sustain_failures);
  io("instances", c.instances);
  io("batch", c.batch);
  io("verify", c.verify);
  io("pending_age_ms", c.pending_age_ms);
  io("dirty_reads", c.dirty_reads);
  io("projection_lag_ms", c.projection_lag_ms);
  io("command", c.command);
  io("notes", c.notes);
  io("fraction_of_saturation", c.fraction_of_saturation);
};

constexpr auto kDirtyReads = [](auto& io, auto& c) {
  io("interval_ms", c.interval_ms);
  io("polls", c.polls);
  io("orders_seen_pending", c.orders_seen_pending);
  io("then_placed", c.then_placed);
  io("then_cancelled", c.then_cancelled);
  io("still_pending", c.still_pending);
  io("errors", c.errors);
};

// [a, b] of two numbers (written back as floats, as compare writes them).
bool ReadPair(const json& j, double* a, double* b) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number() || !j[1].is_number()) return false;
  *a = j[0].get<double>();
  *b = j[1].get<double>();
  return true;
}

}  // namespace

bool Read(const json& j, Percentiles* out) { return ReadStruct(j, out, kPercentiles); }
json Write(const Percentiles& v) { return WriteStruct(v, kPercentiles); }

bool Read(const json& j, CdfPoint* out) { return ReadPair(j, &out->latency_ms, &out->fraction); }
json Write(const CdfPoint& v) { return json::array({v.latency_ms, v.fraction}); }

bool Read(const json& j, MinMax* out) { return ReadPair(j, &out->min, &out->max); }
json Write(const MinMax& v) { return json::array({v.min, v.max}); }

bool Read(const json& j, Ranges* out) { return ReadStruct(j, out, kRanges); }
json Write(const Ranges& v) { return WriteStruct(v, kRanges); }

bool Read(const json& j, Cost* out) { return ReadStruct(j, out, kCost); }
json Write(const Cost& v) { return WriteStruct(v, kCost); }

bool Read(const json& j, CpuPerOp* out) { return ReadStruct(j, out, kCpuPerOp); }
json Write(const CpuPerOp& v) { return WriteStruct(v, kCpuPerOp); }

bool Read(const json& j, Verify* out) { return ReadStruct(j, out, kVerify); }
json Write(const Verify& v) { return WriteStruct(v, kVerify); }

bool Read(const json& j, DirtyReads* out) { return ReadStruct(j, out, kDirtyReads); }
json Write(const DirtyReads& v) { return WriteStruct(v, kDirtyReads); }

bool Read(const json& j, LoadCell* out) { return ReadStruct(j, out, kLoadCell); }
json Write(const LoadCell& v) { return WriteStruct(v, kLoadCell); }

}  // namespace dw::compare::results
