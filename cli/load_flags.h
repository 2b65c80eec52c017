// The load flags every load command shares (`2pc run`, `outbox write`, and
// later the floor and `compare`): how many operations, how many workers,
// closed or open loop, for how long. One definition, so the same flag means
// the same thing in every approach being compared.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "workload/load_runner.h"

namespace dw::cli {

struct LoadFlags {
  int64_t transactions = 1000;
  int concurrency = 1;
  double rate = 0;  // arrivals per second; 0 = closed loop
  double duration_s = 0;
  std::string samples;  // --samples FILE

  // Registers --transactions/-n, --concurrency/-c, --rate, --duration, --samples on `cmd`.
  void Add(CLI::App* cmd);
  // Throws CliError when the combination makes no sense (unbounded with no duration).
  void Validate() const;
  workload::LoadOptions ToOptions(const std::string& label) const;
};

}  // namespace dw::cli
