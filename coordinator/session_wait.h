// Waiting out a dead coordinator's Postgres sessions.
//
// When a coordinator dies, a PREPARE TRANSACTION it had already sent keeps
// running in its backend: Postgres notices the closed socket only when it
// answers, and by then the transaction is prepared. A `2pc recover` that
// lists pg_prepared_xacts before that moment misses it, and it stays in
// doubt until the next recovery. So the coordinator's participant sessions
// carry application_name SessionName(id), and `2pc recover` (which holds
// the id's lock, so that coordinator is gone) first waits until no session
// of that name is left: each one either finished its statement or ended.
//
// (The broker's side needs no wait: recovery aborts a presumed-abort gid at
// EVERY participant, and the broker remembers aborted gids, so a prepare
// that arrives late is refused.)
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace dw::coord {

// "dualwrite-2pc:<id>" (Postgres keeps the first 63 bytes).
std::string SessionName(const std::string& coordinator_id);

// Polls pg_stat_activity of the cluster behind `dsn` until no session named
// `application_name` remains. Timeout when some are still there after `timeout`.
Status WaitForSessionsToEnd(const std::string& dsn, const std::string& application_name,
                            std::chrono::milliseconds timeout);

}  // namespace dw::coord
