// LoadRunner: drives an operation N times with C concurrent workers, closed
// loop (each worker starts its next operation when the last one finishes)
// or open loop at a fixed arrival rate. In open loop, latency is measured
// from each operation's INTENDED start time, so a stall that delays later
// arrivals is charged to them (no coordinated omission).
//
// Every load command (`2pc run`, `outbox write`, the floor) prints the same
// summary and the same JSON object through this runner.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/histogram.h"
#include "common/status.h"

namespace dw::workload {

enum class Outcome { kCommitted, kAborted, kFailed };

struct LoadOptions {
  int64_t transactions = 1000;  // 0: unbounded (then `duration` must be set)
  int concurrency = 1;
  double rate = 0;                        // arrivals per second (open loop); 0 = closed loop
  std::chrono::milliseconds duration{0};  // stop issuing after this long (0: no limit)
  // With `duration`: keep issuing past it until this many operations have
  // completed, for at most 10 times the duration. A short measurement on a
  // stalled machine (the first connections of a loaded CI host can take the
  // whole window) then still ends with operations to measure, instead of
  // with the one or two that started it. 0: stop at `duration`.
  int64_t min_transactions = 0;
  std::string label = "load";
  bool progress = true;         // a progress line on stderr, only when it is a TTY
  bool record_samples = false;  // keep one Sample per operation (timelines in reports)
  // When set, every completed operation is appended to this file as it
  // completes, one line "intended_start_unix_us,latency_us,outcome,key"
  // (outcome c / a / f; key 0 when unknown), flushed at once: a process killed with SIGKILL still
  // leaves the record of everything it acknowledged (`compare` relies on that).
  std::string samples_path;
};

struct Sample {
  int64_t start_us;    // intended start, from the run's start
  int64_t latency_us;  // intended start -> completion
  Outcome outcome;
};

struct LoadSummary {
  uint64_t committed = 0;
  uint64_t aborted =
      0;                // the system refused the operation cleanly (e.g. a participant voted abort)
  uint64_t failed = 0;  // an error: the operation's fate was reported as a failure
  double elapsed_s = 0;
  double throughput_per_s = 0;                      // committed / elapsed
  Histogram latency;                                // µs, all outcomes
  std::vector<Sample> samples;                      // when record_samples, ordered by start
  nlohmann::json extra = nlohmann::json::object();  // approach-specific counters (log_fsyncs, ...)

  // {committed, aborted, failed, elapsed_s, throughput_per_s, process_cpu_s
  //  (this process's user + system CPU when the object is made),
  //  latency_ms: {p50, p95, p99, p999, max, mean}, ...extra}
  nlohmann::json ToJson() const;
  std::string ToText() const;  // human-readable end-of-run summary
};

// `op(worker, index)` runs operation `index` (0-based) on worker `worker`.
// It must be thread-safe across workers.
using Operation = std::function<Outcome(int worker, int64_t index)>;
// The same, and the operation names what it did in *key (the order id), which
// `samples_path` records so a checker can match outcomes with rows and
// messages. *key starts at 0 (unknown).
using KeyedOperation = std::function<Outcome(int worker, int64_t index, int64_t* key)>;

// Several operations at once: `op(worker, indexes, outcomes, keys)` runs the
// operations `indexes` together (a coordinator driving them in lockstep) and
// sets each one's outcome and key (both come sized, kFailed and 0).
using BatchOperation =
    std::function<void(int worker, const std::vector<int64_t>& indexes,
                       std::vector<Outcome>* outcomes, std::vector<int64_t>* keys)>;

// Fails only when `samples_path` cannot be opened (*out untouched then).
Status RunLoad(const LoadOptions& opts, const KeyedOperation& op, LoadSummary* out);
// Operations handed out `batch` at a time: concurrency / batch workers
// (rounded up), so `concurrency` operations are still in flight. Each
// operation's latency runs from its own intended start to the end of its
// batch; in open loop a batch starts at its last operation's arrival, and
// the earlier ones are charged the wait.
Status RunLoad(const LoadOptions& opts, int batch, const BatchOperation& op, LoadSummary* out);
Status RunLoad(const LoadOptions& opts, const Operation& op, LoadSummary* out);
LoadSummary RunLoad(const LoadOptions& opts, const Operation& op);  // no samples_path

}  // namespace dw::workload
