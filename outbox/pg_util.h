// Small helpers for the outbox's own short-lived Postgres sessions (schema,
// maintenance, checks). Long-lived work connections come from PgPool.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "common/status.h"
#include "participants/pg_array.h"

namespace dw::outbox {

// Opens a connection to `dsn` (connect_timeout 5 s unless the DSN sets one),
// runs `fn` on it, and turns any exception into a Status whose message starts
// with `context` (see StatusFromPgException in participants/pg_pool.h).
Status WithConnection(const std::string& dsn, const std::string& context,
                      const std::function<void(pqxx::connection&)>& fn);

// The DSN with connect_timeout added when it has none.
std::string WithConnectTimeout(const std::string& dsn, int seconds = 5);

// A Postgres array literal of integers, "{1,2,3}", for `$1::bigint[]`.
using dw::BigintArray;

// Partition bounds are computed in unix microseconds; a bound before 1970 is
// negative, so rounding down to a partition's width needs floor division.
inline constexpr int64_t kUsPerS = 1000000;
inline constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace dw::outbox
