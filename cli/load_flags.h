// The load flags every load command shares (`2pc run`, `outbox write`, and
// later the floor and `compare`): how many operations, how many workers,
// closed or open loop, for how long. One definition, so the same flag means
// the same thing in every approach being compared.
#pragma once

#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "workload/load_runner.h"

namespace dw::cli {

// Number validators with a message a person can read (CLI11's own print
// "not in range 0.000000 to 1.797...e308" and call "abc" out of range).
// Integers and reals alike; the option's own conversion still applies after.
extern const CLI::Validator NonNegative;  // a number >= 0
extern const CLI::Validator Positive;     // a number > 0

// Makes every number check of `app` and its subcommands (recursively) speak
// plainly: CLI::NonNegativeNumber / CLI::PositiveNumber get the messages of
// the validators above, and unsigned options refuse a leading '-' (CLI11
// 2.1 reads "--seed -1" as 2^64-1). main() calls it once every command is
// registered, so commands added later are covered without touching them.
void TightenNumberChecks(CLI::App* app);

// The first few errors of a load, printed after its summary (a run with
// thousands of failures names five, not thousands). Thread-safe: the load's
// workers add to it.
class FirstErrors {
 public:
  void Add(const std::string& error);
  // One line per error: "<what>: <error>".
  void Print(std::ostream& out, const std::string& what) const;

 private:
  static constexpr size_t kKept = 5;
  mutable std::mutex mu_;
  std::vector<std::string> errors_;  // guarded by mu_
};

// The end-of-run summary every load command prints: one JSON object with
// --json, else the text.
void PrintSummary(const workload::LoadSummary& sum, bool json);

struct LoadFlags {
  int64_t transactions = 1000;
  int concurrency = 1;
  double rate = 0;  // arrivals per second; 0 = closed loop
  double duration_s = 0;
  int64_t min_transactions = 0;  // --min-transactions N: with --duration, on until N completed
  std::string samples;           // --samples FILE
  std::string customer_file;     // --customer-file FILE: every order's customer (raw bytes)
  int64_t hot_rows = 0;          // --hot-rows N: each order reserves stock of a product in 1..N
  double hot_skew = 0;           // --hot-skew S: Zipf exponent of that draw; 0 = uniform
  // --events-per-order E: event 1 places the order, events 2..E update it,
  // each its own transaction (workload/order_events.h); 1 = one event, as always.
  int events_per_order = 1;

  // Registers --transactions/-n, --concurrency/-c, --rate, --duration,
  // --min-transactions, --samples,
  // --customer-file, --hot-rows, --hot-skew, --events-per-order on `cmd`.
  void Add(CLI::App* cmd);
  // Throws CliError when the combination makes no sense (unbounded with no
  // duration, --hot-skew without --hot-rows, more products than
  // workload::kMaxHotRows) or the customer file cannot be used (unreadable,
  // a NUL byte, not UTF-8); otherwise installs the customer override
  // (workload/orders.h) and the hot-rows setting (workload/stock.h); the
  // command then creates the stock rows (workload::EnsureStockTable) on
  // every Postgres its orders touch. Call it before anything is created or
  // connected to.
  void Validate() const;
  // For a command that cannot issue events 2..E yet: throws CliError naming
  // `command` when --events-per-order is above 1 (never ignored silently).
  void RefuseSeveralEvents(const std::string& command) const;
  workload::LoadOptions ToOptions(const std::string& label) const;
};

}  // namespace dw::cli
