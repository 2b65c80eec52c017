// PgQ's parts for the commands that use them (`outbox write --queue pgq`,
// `outbox relay --strategy pgq`, `up --pgq`): the extension, the queue and
// its consumer in the database, and pgqd running for the state folder.
#pragma once

#include <ostream>
#include <string>

#include "cli/commands.h"
#include "outbox/pgq_queue.h"

namespace dw::cli {

// Creates what is missing (EnsurePgqQueue with `settings`, null: left as
// they are), then starts pgqd for `dsn` unless one runs for --state-dir, when
// `pgqd` is true. Says what it started (and the ticker settings) on `out`.
// Throws CliError on failure.
void EnsurePgq(const Globals& g, const std::string& dsn, const outbox::PgqTickerSettings* settings,
               bool pgqd, std::ostream& out);

}  // namespace dw::cli
