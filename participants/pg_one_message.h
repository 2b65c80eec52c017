// The Postgres participant's one-message form of a work: BEGIN, the
// statements and the final PREPARE TRANSACTION (or COMMIT) sent together,
// and the checks every call makes before anything is sent. Shared by the
// blocking calls (postgres_participant.cc) and the started ones
// (postgres_started.cc).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "participants/participant.h"
#include "participants/pg_pool.h"

namespace dw::pg_work {

// `work`'s statements as ONE simple-query text (the parts, joined by ';'),
// each an EXECUTE of its server-side prepared form with the values as quoted
// literals, so that BEGIN, the statements and the PREPARE TRANSACTION (or
// COMMIT) travel in a single round trip instead of one each (four for a
// one-insert prepare, which also drew a server WARNING per transaction from
// libpqxx's trailing COMMIT). Being one message also means a reconnect can
// never split it across two backends. Returns false when some statement has
// no prepared form (the connection's cache is full): the caller takes the
// statement-by-statement path, as it does when some statement has an
// expect_rows (a multi-statement query reports only its last statement's
// rows). Throws like any exec. `rows_per_part`: the caller reads every
// part's own result (a started call reads the server's answer to each
// statement of the text), so statements with an expect_rows are taken too.
bool OneMessage(PgPool::Lease& lease, const Work& work, std::vector<std::string>* parts,
                bool rows_per_part = false);

// Aborted (a vote abort), naming the statement and its arguments: `st`
// changed `rows` rows, not its expect_rows.
Status RowsMismatch(const SqlStatement& st, uint64_t rows);

// The parts as one text, each ended by ';'.
std::string Joined(const std::vector<std::string>& parts);

// libpq reads a text parameter up to its first NUL byte, and
// PQescapeStringConn (quote()) stops there too: a value with a NUL would be
// stored silently shortened. Refuse the work instead (Postgres text cannot
// hold a NUL anyway): InvalidArgument.
Status CheckNoNul(const Work& work);

// InvalidArgument unless gid is a valid name ([A-Za-z0-9._:-]{1,200}).
Status CheckGid(const std::string& gid);

}  // namespace dw::pg_work
