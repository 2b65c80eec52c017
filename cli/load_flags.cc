#include "cli/load_flags.h"

#include "cli/commands.h"

namespace dw::cli {

void LoadFlags::Add(CLI::App* cmd) {
  cmd->add_option("--transactions,-n", transactions, "orders to place (default 1000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--concurrency,-c", concurrency, "concurrent workers (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rate", rate,
                  "open loop: arrivals per second (latency from the intended start); default "
                  "closed loop")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--duration", duration_s, "stop issuing after this many seconds")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--samples", samples,
                  "append one line per completed operation to FILE: intended start (unix us), "
                  "latency us, outcome c|a|f (used by `compare` for timelines)");
}

void LoadFlags::Validate() const {
  if (transactions == 0 && duration_s <= 0) {
    throw CliError("--transactions 0 (unbounded) needs --duration");
  }
}

workload::LoadOptions LoadFlags::ToOptions(const std::string& label) const {
  workload::LoadOptions lo;
  lo.transactions = transactions;
  lo.concurrency = concurrency;
  lo.rate = rate;
  lo.duration = std::chrono::milliseconds(static_cast<int64_t>(duration_s * 1000));
  lo.label = label;
  lo.samples_path = samples;
  return lo;
}

}  // namespace dw::cli
