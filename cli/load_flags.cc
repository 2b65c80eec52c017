#include "cli/load_flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/commands.h"
#include "workload/order_events.h"
#include "workload/orders.h"
#include "workload/stock.h"

namespace dw::cli {

void FirstErrors::Add(const std::string& error) {
  std::lock_guard<std::mutex> l(mu_);
  if (errors_.size() < kKept) errors_.push_back(error);
}

void FirstErrors::Print(std::ostream& out, const std::string& what) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& e : errors_) out << what << ": " << e << "\n";
}

void PrintSummary(const workload::LoadSummary& sum, bool json) {
  if (json) {
    std::cout << sum.ToJson().dump() << "\n";
  } else {
    std::cout << sum.ToText();
  }
}
namespace {

// "" when `s` is a number satisfying `ok`, else what is wrong with it.
std::string CheckNumber(const std::string& s, bool (*ok)(double), const char* want) {
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) {
    return "'" + s + "' is not a number";
  }
  if (!ok(v)) return s + " is out of range: want " + want;
  return "";
}

}  // namespace

const CLI::Validator NonNegative(
    [](std::string& s) {
      return CheckNumber(
          s, [](double v) { return v >= 0; }, "a number >= 0");
    },
    "NUMBER >= 0", "NonNegative");
const CLI::Validator Positive(
    [](std::string& s) {
      return CheckNumber(
          s, [](double v) { return v > 0; }, "a number > 0");
    },
    "NUMBER > 0", "Positive");

void TightenNumberChecks(CLI::App* app) {
  for (CLI::Option* opt : app->get_options()) {
    // CLI11 2.1 gives these two a description ("NONNEGATIVE", "POSITIVE") but no name.
    for (int i = 0;; ++i) {
      CLI::Validator* v = nullptr;
      try {
        v = opt->get_validator(i);
      } catch (const CLI::OptionNotFound&) {
        break;  // no more checks on this option
      }
      const std::string d = v->get_description();
      const CLI::Validator* r = d == "NONNEGATIVE" ? &NonNegative
                                : d == "POSITIVE"  ? &Positive
                                                   : nullptr;
      if (r) v->operation([r](std::string& s) { return (*r)(s); });
    }
    if (opt->get_type_name().rfind("UINT", 0) == 0) {
      opt->check(CLI::Validator(
          [](std::string& s) {
            return s.find('-') == std::string::npos ? std::string()
                                                    : s + " is negative: want a whole number >= 0";
          },
          "", "Unsigned"));
    }
  }
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    TightenNumberChecks(sub);
  }
}

void LoadFlags::Add(CLI::App* cmd) {
  cmd->add_option("--transactions,-n", transactions, "orders to place (default 1000)")
      ->check(NonNegative);
  cmd->add_option("--concurrency,-c", concurrency, "concurrent workers (default 1)")
      ->check(Positive);
  cmd->add_option("--rate", rate,
                  "open loop: arrivals per second (latency from the intended start); default "
                  "closed loop")
      ->check(NonNegative);
  cmd->add_option("--duration", duration_s, "stop issuing after this many seconds")
      ->check(NonNegative);
  cmd->add_option("--min-transactions", min_transactions,
                  "with --duration: keep issuing past the duration until N operations have "
                  "completed, for at most 10 times the duration (a short run on a stalled "
                  "machine still measures something); default 0 = stop at the duration")
      ->check(NonNegative);
  cmd->add_option("--samples", samples,
                  "append one line per completed operation to FILE: intended start (unix us), "
                  "latency us, outcome c|a|f (used by `compare` for timelines)");
  cmd->add_option("--customer-file", customer_file,
                  "hostile-input experiments: every order's customer is this file's bytes "
                  "(quotes, unicode, control characters...; not NUL, which Postgres text "
                  "cannot hold; valid UTF-8)");
  cmd->add_option("--hot-rows", hot_rows,
                  "contention: each order also reserves stock of a product drawn from 1..N "
                  "(UPDATE stock SET reserved = reserved + 1) in the order's transaction, so "
                  "row locks are held until it commits; default 0 = off")
      ->check(NonNegative);
  cmd->add_option("--hot-skew", hot_skew,
                  "with --hot-rows: draw the product from a Zipf distribution with this "
                  "exponent (product 1 the hottest); default 0 = uniform")
      ->check(NonNegative);
  cmd->add_option("--events-per-order", events_per_order,
                  "events per order, each its own transaction issued after the previous one "
                  "was acknowledged: 1 OrderPlaced (the INSERT), then OrderPaid, OrderPacked, "
                  "OrderShipped, ... (an UPDATE of the order's status and version with its "
                  "event, message id order-<id>-<n>); default 1")
      ->check(CLI::Range(1, workload::kMaxEventsPerOrder));
}

void LoadFlags::RefuseSeveralEvents(const std::string& command) const {
  if (events_per_order > 1) {
    throw CliError(
        "--events-per-order " + std::to_string(events_per_order) + ": `" + command +
        "` places one event per order only (supported: 2pc run, 3pc run, outbox write, es "
        "write, floor)");
  }
}

void LoadFlags::Validate() const {
  if (transactions == 0 && duration_s <= 0) {
    throw CliError("--transactions 0 (unbounded) needs --duration");
  }
  if (min_transactions > 0 && duration_s <= 0) {
    throw CliError("--min-transactions extends a --duration: give --duration too");
  }
  // Checked before the customer file is read: nothing is installed when
  // either is refused.
  const workload::HotRows hot{hot_rows, hot_skew};
  Status hs = workload::ValidateHotRows(hot);
  if (!hs.ok()) throw CliError(hs.message());
  if (!customer_file.empty()) {
    std::ifstream in(customer_file, std::ios::binary);
    if (!in) throw CliError("cannot read --customer-file " + customer_file);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw CliError("cannot read --customer-file " + customer_file);
    Status s = workload::SetCustomerOverride(bytes);
    if (!s.ok()) throw CliError("--customer-file " + customer_file + ": " + s.message());
  }
  hs = workload::SetHotRows(hot);
  if (!hs.ok()) throw CliError(hs.message());
}

workload::LoadOptions LoadFlags::ToOptions(const std::string& label) const {
  workload::LoadOptions lo;
  lo.transactions = transactions;
  lo.concurrency = concurrency;
  lo.rate = rate;
  lo.duration = std::chrono::milliseconds(static_cast<int64_t>(duration_s * 1000));
  lo.min_transactions = min_transactions;
  lo.label = label;
  lo.samples_path = samples;
  return lo;
}

}  // namespace dw::cli
