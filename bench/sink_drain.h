// What the real-broker drain benchmarks (nats_bench, rabbitmq_bench) share:
// the outbox rows a skip-locked relay drains and the payload of the same
// order that a baseline loop publishes, the database they live in, the timed
// drain itself, and the pairs that alternate drain and baseline in one run
// with their summary. Each benchmark adds its sink: how the relay reaches it,
// how many messages it holds, and its client library's minimal publish loop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "bench/bench_util.h"
#include "common/status.h"
#include "outbox/relay.h"
#include "outbox/relay_runner.h"

namespace dw::bench::sink {

// Throws std::runtime_error with the status's text unless it is OK: a
// benchmark stops at its first error, and main() prints it on one line.
void OrThrow(const Status& s);

// $name as a number, or `def` when unset or empty.
int64_t EnvInt(const char* name, int64_t def);

// The payload the relay publishes for order g: what Prefill writes.
std::string Payload(int64_t g);

// Replaces the outbox's rows by R rows for `topic` with event ids
// order-<first>..order-<first + rows - 1> and Payload's payloads, then
// VACUUM ANALYZE (each drain starts from the same table state).
void Prefill(const std::string& dsn, const std::string& topic, int64_t first, int64_t rows);

// Database `name` recreated in `env`'s cluster with the outbox schema and its
// partitions; its DSN.
std::string OutboxDatabase(const BenchEnvironment& env, const std::string& name);

// CPU seconds each party used over one timed side of a pair; negative where
// it could not be read. On two shared cores the parties' CPU per message is
// what bounds a side's rate, so the ratio of the two sides' totals is the
// bound the drain/baseline ratio meets.
struct CpuUse {
  double process = -1;   // this process: the relays (threads) or the baseline loop
  double server = -1;    // the broker server's process tree
  double postgres = -1;  // the Postgres cluster's process tree (the drain's claims)
};

// Reads the parties' CPU at Start() and Stop(): this process (getrusage),
// the server's process tree and the cluster's (a pid of 0 is not read).
class CpuMeter {
 public:
  CpuMeter(pid_t server, pid_t postmaster) : server_(server), postmaster_(postmaster) {}
  void Start();
  // Waits 300 ms before reading the cluster, so that the backends of
  // connections closed at the end of the span have been reaped and counted.
  CpuUse Stop();

 private:
  CpuUse Now() const;
  pid_t server_, postmaster_;
  CpuUse start_;
};

// Seconds `instances` skip-locked relays with `ro`'s sink and batch take to
// drain the outbox (RunRelays --until-drained, no maintenance); `log` gets
// the relays' errors and retries (null: none), *report their report.
// $DW_BENCH_PIPELINE=1: the relays run with RelayOptions::pipeline
// (`--pipeline`: each claims its next batch while one is published).
// `meter` (optional) is started and stopped around the drain alone, into *cpu.
double TimedDrain(outbox::RelayOptions ro, int instances, std::ostream* log,
                  outbox::RelayReport* report, CpuMeter* meter = nullptr, CpuUse* cpu = nullptr);

// One pair's sides, each given the topic (queue, stream) it publishes to and
// its first order id, and returning its rate in messages per second and in
// *cpu the CPU its timed part used (CpuMeter); `after` (optional) runs once
// both are done, with both topics.
struct Pair {
  std::function<double(const std::string&topic, int64_t first, CpuUse*cpu)> drain, baseline;
  std::function<void(const std::string& drain_topic, const std::string& baseline_topic)> after;
};

// `pairs` pairs of `rows` messages each side, in topics drain_<p> and
// baseline_<p>, alternating which side goes first so that a slow phase of
// the machine hits both; prints every pair's rates and ratio (drain /
// baseline) and the median, minimum and maximum ratio against the 0.7x
// target; and each side's CPU µs per message per party, with the ratio of
// the baseline's total to the drain's (what the CPU alone allows the drain).
void RunPairs(int pairs, int64_t rows, const Pair& p);

}  // namespace dw::bench::sink
