// ApplyDdl: creates what a component needs in a database (tables, indexes,
// sequences), written with IF NOT EXISTS so it is idempotent.
//
// The statements run in one transaction under a transaction-scoped advisory
// lock: two processes starting at once could otherwise both decide a table
// is missing and collide on the catalog's unique index, IF NOT EXISTS
// notwithstanding. Each component uses its own lock key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace dw {

// `what` names the component in errors ("decision log", "orders schema").
// Unreachable server -> Unavailable; any other failure -> IOError.
Status ApplyDdl(const std::string& dsn, int64_t lock_key, const std::vector<std::string>& ddl,
                const std::string& what);

}  // namespace dw
