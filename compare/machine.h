// The machine line of a report: what the numbers were measured on.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace dw::compare {

// {cpu, cores, memory_gib, kernel, postgres_version, postgres_settings,
//  fsync_method, broker_fsync, dualwrite_commit}. Fields that cannot be read
// are null.
nlohmann::json DescribeMachine(const std::string& dsn);

// The current time as ISO-8601 UTC ("2026-11-28T04:12:21Z"), for run records.
std::string UtcNowIso();

}  // namespace dw::compare
