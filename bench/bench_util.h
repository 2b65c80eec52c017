// What the foundation benchmarks share: broker processes of their own, the
// embedded Postgres environment, latency percentiles (Google Benchmark 1.7.1
// computes none) and a reporter that keeps the results for a ratio summary.
//
// Thread model of a multi-threaded benchmark (->Threads(n)): Google Benchmark
// lines all threads up at a barrier when the timed loop starts and again when
// it ends. So code run by thread 0 before the loop happens before any
// thread's first iteration, and code run by thread 0 after the loop sees
// everything every thread did inside it. LatencyRecorder relies on that: each
// thread appends to its own slot inside the loop without locks, and thread 0
// resets before and reads after.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "common/status.h"
#include "env/broker_process.h"
#include "participants/broker_client.h"

namespace dw::bench {

// The dualwrite executable built with the benchmarks (compile definition
// DW_BINARY), or $DUALWRITE_BINARY when set.
std::string DualwriteBinary();

// A fresh folder /tmp/dw-bench-<tag>-XXXXXX, mode 0755 (the `postgres` OS
// user must be able to traverse it when the embedded cluster runs as root).
Status MakeTempDir(const std::string& tag, std::string* out);

// One `dualwrite broker serve` process of the benchmark's own, on a free
// loopback port, with its data dir and fsync policy. Its stdout+stderr go to
// DATA_DIR/broker.out. An env::BrokerProcess with the benchmark's binary.
class BrokerServer {
 public:
  BrokerServer(std::string data_dir, std::string fsync_policy)
      : broker_(DualwriteBinary(), Options(std::move(data_dir)), {"--fsync", fsync_policy}),
        fsync_(std::move(fsync_policy)) {}
  ~BrokerServer() { (void)Stop(); }
  BrokerServer(const BrokerServer&) = delete;
  BrokerServer& operator=(const BrokerServer&) = delete;

  // Spawns it and waits (up to 20 s) until GET /healthz answers.
  Status Start() { return broker_.Start(); }
  // SIGTERM and wait for a clean exit; SIGKILL after 15 s (then Timeout). Idempotent.
  Status Stop() {
    bool killed = false;
    Status s = broker_.Stop(std::chrono::seconds(15), &killed);
    if (s.ok() && killed) return Status::Timeout("the broker ignored SIGTERM for 15 s; killed");
    return s;
  }

  std::string url() const { return broker_.url(); }
  const std::string& data_dir() const { return broker_.data_dir(); }
  pid_t pid() const { return broker_.pid(); }  // -1 when not running
  const std::string& fsync_policy() const { return fsync_; }

 private:
  static env::ServerOptions Options(std::string data_dir) {
    env::ServerOptions o;
    o.data_dir = std::move(data_dir);
    o.log_path = o.data_dir + "/broker.out";
    return o;
  }

  env::BrokerProcess broker_;
  std::string fsync_;
};

// The value of the unlabelled sample `name` in a Prometheus text exposition
// (e.g. dw_broker_fsyncs_total). NotFound when absent.
Status MetricValue(const std::string& text, const std::string& name, double* out);
// GET /metrics through `client`, then MetricValue.
Status ReadMetric(BrokerClient* client, const std::string& name, double* out);

// `dsn` (key=value or URI form) pointing at database `dbname` instead,
// rebuilt as key=value. InvalidArgument when libpq cannot parse it.
Status WithDatabase(const std::string& dsn, const std::string& dbname, std::string* out);

// The Postgres the benchmark talks to: $DW_BENCH_DSN when set (nothing is
// started or stopped), otherwise an embedded environment brought up with
// `dualwrite up` in $DW_BENCH_STATE_DIR (or a fresh /tmp folder) and torn
// down with `dualwrite down --purge` by Close().
class BenchEnvironment {
 public:
  BenchEnvironment() = default;
  ~BenchEnvironment();  // Close()
  BenchEnvironment(const BenchEnvironment&) = delete;
  BenchEnvironment& operator=(const BenchEnvironment&) = delete;

  Status Open();
  Status Close();  // idempotent; stops only what Open started

  const std::string& dsn() const { return dsn_; }
  // Empty when the DSN came from $DW_BENCH_DSN.
  const std::string& state_dir() const { return state_dir_; }
  // The embedded cluster's postmaster; 0 when the DSN came from $DW_BENCH_DSN.
  pid_t postgres_pid() const { return postgres_pid_; }

 private:
  std::string dsn_;
  std::string state_dir_;
  pid_t postgres_pid_ = 0;
  bool owned_ = false;
};

// Per-operation latencies of one benchmark run (see the thread model above).
class LatencyRecorder {
 public:
  // Thread 0, before the timed loop.
  void Reset(int threads);
  // Any thread, inside the timed loop: `thread` is state.thread_index().
  void Record(int thread, std::chrono::nanoseconds d) { slots_[thread].ns.push_back(d.count()); }
  // Thread 0, after the timed loop: every sample, sorted ascending.
  std::vector<int64_t> Sorted() const;

 private:
  // One cache line per thread so that appends do not false-share.
  struct alignas(64) Slot {
    std::vector<int64_t> ns;
  };
  std::vector<Slot> slots_;
};

// Nearest-rank percentile (q in 0..1) of an ascending sample; 0 if empty.
int64_t Percentile(const std::vector<int64_t>& sorted, double q);

// Thread 0, after the loop: sets the counters p50_us, p99_us and mean_us
// from `rec`, and returns the number of samples (operations of all threads).
size_t ReportLatency(benchmark::State& state, const LatencyRecorder& rec);

// A console reporter that also keeps every run it prints, so main() can put
// ratios between benchmarks of the same run under the table. With
// --benchmark_repetitions=N (best with --benchmark_enable_random_interleaving,
// so that slow phases of a shared machine hit every benchmark alike) Find
// gives, per value, the median over the repetitions.
class KeepingReporter : public benchmark::ConsoleReporter {
 public:
  struct Result {
    double real_ns_per_op = 0;  // the "Time" column: wall time / operations of all threads
    std::map<std::string, double> counters;
    int repetitions = 0;  // runs the medians come from
  };

  // Colour is the caller's choice (Google Benchmark applies --benchmark_color
  // only to the reporter it makes itself).
  explicit KeepingReporter(OutputOptions opts) : ConsoleReporter(opts) {}

  void ReportRuns(const std::vector<Run>& runs) override;

  // By the benchmark's full name (e.g. "publish/always/real_time/threads:16");
  // nullopt when it did not run (filtered out) or every repetition failed.
  std::optional<Result> Find(const std::string& name) const;

 private:
  std::map<std::string, std::vector<Result>> results_;  // successful runs only
};

}  // namespace dw::bench
