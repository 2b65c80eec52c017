// What the real-broker drain benchmarks (nats_bench, rabbitmq_bench) share:
// the outbox rows a skip-locked relay drains and the payload of the same
// order that a baseline loop publishes, the database they live in, the timed
// drain itself, and the pairs that alternate drain and baseline in one run
// with their summary. Each benchmark adds its sink: how the relay reaches it,
// how many messages it holds, and its client library's minimal publish loop.
#pragma once

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

// Seconds `instances` skip-locked relays with `ro`'s sink and batch take to
// drain the outbox (RunRelays --until-drained, no maintenance); `log` gets
// the relays' errors and retries (null: none), *report their report.
double TimedDrain(outbox::RelayOptions ro, int instances, std::ostream* log,
                  outbox::RelayReport* report);

// One pair's sides, each given the topic (queue, stream) it publishes to and
// its first order id, and returning its rate in messages per second; `after`
// (optional) runs once both are done, with both topics.
struct Pair {
  std::function<double(const std::string&topic, int64_t first)> drain, baseline;
  std::function<void(const std::string& drain_topic, const std::string& baseline_topic)> after;
};

// `pairs` pairs of `rows` messages each side, in topics drain_<p> and
// baseline_<p>, alternating which side goes first so that a slow phase of
// the machine hits both; prints every pair's rates and ratio (drain /
// baseline) and the median, minimum and maximum ratio against the 0.7x
// target.
void RunPairs(int pairs, int64_t rows, const Pair& p);

}  // namespace dw::bench::sink
