// The machine line of a report: what the numbers were measured on.
#pragma once

#include <string>

#include "compare/results.h"

namespace dw::compare {

// The CPU, cores, memory, kernel, Postgres version and settings (read over
// `dsn`), broker fsync mode and dualwrite commit. Fields that cannot be read
// are null.
results::Machine DescribeMachine(const std::string& dsn);

// The current time as ISO-8601 UTC ("2026-11-28T04:12:21Z"), for run records.
std::string UtcNowIso();

}  // namespace dw::compare
